import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TQ_BIN, makeProject, stopAfterTest } from '../helpers/cli.js';
import { trackProcess } from '../helpers/processes.js';
import { appProject } from '../helpers/project.js';

/** Runs `tq ...args` with its stdout closed before it writes: as `| head -1` does to a long output. */
function runWithClosedStdout(project: ReturnType<typeof appProject>, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [TQ_BIN, ...args], {
    cwd: project.dir,
    env: { ...process.env, TQ_DEBUG: '', ...project.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy();
  trackProcess({
    name: `tq ${args.join(' ')} (pid ${child.pid})`,
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
    },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('every command tells the truth and refuses silent footguns', () => {
  const project = appProject();

  it('a duration without a unit is refused with a hint, for every duration flag', async () => {
    const delay = await project.run(['enqueue', 'hello', 'x', '--delay', '5']);
    expect(delay.code).toBe(2);
    expect(delay.stderr).toBe('tq: --delay "5" needs a unit: 5s? 5000ms?\n');
    const cases: string[][] = [
      ['enqueue', 'hello', 'x', '--expires', '60'],
      ['enqueue', 'hello', 'x', '--time-limit', '30'],
      ['enqueue', 'hello', 'x', '--wait', '--timeout', '10'],
      ['worker', '--shutdown-timeout', '30'],
      ['monitor', '--once', '--interval', '1'],
    ];
    for (const args of cases) {
      const res = await project.run(args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr, args.join(' ')).toMatch(/^tq: --[a-z-]+ "\d+" needs a unit: \d+s\? \d+ms\?\n$/);
    }
    // Zero is zero in any unit.
    expect((await project.run(['enqueue', 'hello', 'x', '--delay', '0'])).code).toBe(0);
  });

  it('enqueue refuses what the handler could not read: no file, a missing arg, a payload that is not an object', async () => {
    const noFile = await project.run(['enqueue', 'resize']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toBe('tq: resize needs at least one file — usage: tq enqueue resize <file> [more files...]\n');
    const noName = await project.run(['enqueue', 'hello']);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toBe('tq: hello needs <name> — usage: tq enqueue hello <name>\n');
    for (const [payload, kind] of [
      ['[1,2]', 'an array'],
      ['"str"', 'a string'],
      ['null', 'null'],
    ] as const) {
      const res = await project.run(['enqueue', 'hello', '--payload', payload]);
      expect(res.code, payload).toBe(2);
      expect(res.stderr, payload).toBe(`tq: task "hello" takes a JSON object as payload, got ${kind}\n`);
    }
    const resizeArray = await project.run(['enqueue', 'resize', '--payload', '[1,2]']);
    expect(resizeArray.code).toBe(2);
    expect(resizeArray.stderr).toBe('tq: task "resize" takes a JSON object as payload, got an array\n');
    // The name may come from --payload; an optional arg (cleanup's olderThan?) may be left out.
    expect((await project.run(['enqueue', 'hello', '--payload', '{"name":"ann"}'])).code).toBe(0);
    expect((await project.run(['enqueue', 'cleanup'])).code).toBe(0);
    expect(noName.stdout + noFile.stdout).toBe('');
  });

  it('-q onto a queue no live worker consumes warns; --wait says it may wait forever and prints the id first; Ctrl-C says how to follow or cancel', async () => {
    const parked = await project.run(['enqueue', 'hello', 'x', '-q', 'nosuch']);
    expect(parked.code).toBe(0);
    expect(parked.stderr).toContain(
      'warning: no live worker consumes queue "nosuch": the run waits until one does (tq worker -Q nosuch)\n',
    );

    const waiting = stopAfterTest(project.spawn(['enqueue', 'hello', 'y', '-q', 'nosuch', '--wait']));
    await waiting.waitFor(/may wait forever/);
    const id = /enqueued hello run (\S+) on queue nosuch \(waiting\)/.exec(waiting.output)?.[1];
    expect(id).toBeDefined();
    expect(waiting.output.indexOf(`run ${id}`)).toBeLessThan(waiting.output.indexOf('may wait forever'));
    waiting.kill('SIGINT');
    expect(await waiting.exited).toBe(130);
    expect(waiting.output).toContain(
      `tq: stopped waiting; run ${id} goes on — follow it: tq inspect task ${id}; cancel it: tq control cancel ${id}\n`,
    );
  });

  it('a worker logs no progress lines at info level, and no queue warning when it consumes the queue', async () => {
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default,images']));
    await worker.waitFor(/ready/);
    const { writeTestImage } = await import('../../src/tasks/index.js');
    await writeTestImage(project.file('p.png'), { width: 40, height: 30, format: 'png' });
    const res = await project.run(['enqueue', 'resize', 'p.png', '--wait', '-q', 'images']);
    expect(res.code).toBe(0);
    expect(res.stderr).not.toMatch(/warning/);
    await worker.waitFor(/resize\[\w+\] succeeded/);
    expect(worker.output).not.toMatch(/ progress/);
  });

  it('stdout closed early (| head): exit 0, no stack', async () => {
    expect((await project.run(['enqueue', 'hello', 'z'])).code).toBe(0);
    for (const args of [['inspect', 'history'], ['enqueue', 'hello', 'w', '--json'], ['--help']]) {
      const res = await runWithClosedStdout(project, args);
      expect(res.stderr, args.join(' ')).not.toMatch(/EPIPE|Error|at /);
      expect(res.code, args.join(' ')).toBe(0);
    }
  });

  it('one error style: mistyped commands, verbs and options get one tq line, exit 2, with did you mean', async () => {
    const verb = await project.run(['inspect', 'tsks']);
    expect(verb.code).toBe(2);
    expect(verb.stderr).toBe('tq: unknown verb "tsks" for tq inspect — did you mean "tasks"?\n');
    const command = await project.run(['wrker']);
    expect(command.code).toBe(2);
    expect(command.stderr).toBe('tq: unknown command \'wrker\' — did you mean "worker"?\n');
    const option = await project.run(['enqueue', 'hello', 'x', '--jsn']);
    expect(option.code).toBe(2);
    expect(option.stderr).toBe('tq: unknown option \'--jsn\' — did you mean "--json"?\n');
    const missing = await project.run(['control', 'cancel']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("tq: missing required argument 'id' — see tq control cancel --help\n");
  });

  it('a config syntax error shows file:line:column and the line; unknown resizeImage options list every allowed one', async () => {
    const broken = makeProject(`import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  tasks: {
    a: defineTask({ run: () => 1 })
    b: defineTask({ run: () => 2 }),
  },
});
`);
    const res = await broken.run(['worker']);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      'tq: tasks.config.ts:5:5: syntax error: Unexpected token, expected ","\n  5 |     b: defineTask({ run: () => 2 }),\n    |     ^\n',
    );
    const typo = makeProject(`import { defineConfig } from 'tq';
import { resizeImage } from 'tq/tasks';
export default defineConfig({ tasks: { resize: resizeImage({ maxWidht: 800 } as any) } });
`);
    const bad = await typo.run(['worker']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^tq: tasks\.config\.ts: resizeImage\(\): unknown option "maxWidht" \(did you mean "maxWidth"\?\); allowed: maxWidth, maxHeight, quality, allow, maxPixels, fsync, queue/,
    );
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
