import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { oneLineUsage } from '../../src/cli/usage-error.js';
import { createWorkerLogger } from '../../src/cli/worker-log.js';
import { ConfigError } from '../../src/core/errors.js';
import { closest, didYouMean } from '../../src/core/suggest.js';
import { argSpec, argsUsage, payloadShapeProblem } from '../../src/core/task.js';
import { resolveResizeOptions, type ResizeOptions } from '../../src/tasks/resize/options.js';

describe('did you mean', () => {
  it('finds the name a typo was meant to be, and nothing for a different word', () => {
    expect(closest('tsks', ['queues', 'workers', 'tasks', 'task'])).toBe('tasks');
    expect(closest('maxWidht', ['maxWidth', 'maxHeight'])).toBe('maxWidth');
    expect(closest('Quality', ['quality'])).toBe('quality');
    expect(didYouMean('xyz', ['queues', 'tasks'])).toBeUndefined();
    expect(didYouMean('histroy', ['history'])).toBe('did you mean "history"?');
  });
});

describe("commander's usage errors in tq's style", () => {
  it('one line, the suggestion folded in, or where to look', () => {
    expect(oneLineUsage("error: unknown command 'wrker'\n(Did you mean worker?)\n", 'tq')).toBe(
      'tq: unknown command \'wrker\' — did you mean "worker"?\n',
    );
    expect(oneLineUsage("error: unknown option '--frobnicate'\n", 'tq enqueue')).toBe(
      "tq: unknown option '--frobnicate' — see tq enqueue --help\n",
    );
  });
});

describe('task args', () => {
  it("'name' is required, 'name?' optional; usage reads <name> [name]", () => {
    expect(argSpec('name')).toEqual({ key: 'name', optional: false });
    expect(argSpec('olderThan?')).toEqual({ key: 'olderThan', optional: true });
    expect(argsUsage(['name', 'olderThan?'])).toBe('<name> [olderThan]');
  });

  it('a task with args or files takes a JSON object; others take any JSON', () => {
    const hello = { name: 'hello', args: ['name'], takesFiles: false };
    expect(payloadShapeProblem(hello, { name: 'x' })).toBeUndefined();
    expect(payloadShapeProblem(hello, [1, 2])).toBe('task "hello" takes a JSON object as payload, got an array');
    expect(payloadShapeProblem(hello, 'str')).toBe('task "hello" takes a JSON object as payload, got a string');
    expect(payloadShapeProblem(hello, null)).toBe('task "hello" takes a JSON object as payload, got null');
    expect(payloadShapeProblem({ name: 'resize', args: [], takesFiles: true }, 7)).toMatch(/got a number/);
    expect(payloadShapeProblem({ name: 'free', args: [], takesFiles: false }, [1, 2])).toBeUndefined();
  });
});

describe('resizeImage() options', () => {
  it('an unknown key lists every allowed option, with the closest one', () => {
    let err: unknown;
    try {
      resolveResizeOptions({ maxWidht: 800 } as ResizeOptions);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).toMatch(/^resizeImage\(\): unknown option "maxWidht" \(did you mean "maxWidth"\?\); allowed: /);
    for (const key of ['maxWidth', 'maxHeight', 'quality', 'allow', 'maxPixels', 'fsync', 'queue', 'attempts', 'timeout']) {
      expect(message).toContain(key);
    }
  });

  it('every option it documents is accepted', () => {
    expect(() =>
      resolveResizeOptions({
        maxWidth: 10,
        maxHeight: 10,
        quality: 50,
        allow: ['svg'],
        maxPixels: 100,
        fsync: true,
        queue: 'q',
        attempts: 2,
      }),
    ).not.toThrow();
  });
});

describe('worker log: progress', () => {
  const base = { jobId: 'job-123456789', task: 'resize', queue: 'images', at: 0, attempt: 1 } as const;

  function logged(level: 'debug' | 'info', format: 'text' | 'json'): string[] {
    const lines: string[] = [];
    const log = createWorkerLogger({ level, format, color: new Chalk({ level: 0 }), write: (l) => lines.push(l) });
    log.event({ ...base, type: 'progress', progress: 40 });
    return lines;
  }

  it('is not a line at info level (one line per run stays true)', () => {
    expect(logged('info', 'text')).toEqual([]);
    expect(logged('info', 'json')).toEqual([]);
  });

  it('at debug level it carries the value, in text and in JSON', () => {
    expect(logged('debug', 'text')[0]).toMatch(/resize\[456789\] progress 40$/);
    expect(JSON.parse(logged('debug', 'json')[0]!)).toMatchObject({ level: 'debug', event: 'progress', progress: 40 });
  });
});
