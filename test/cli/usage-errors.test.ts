import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { makeProject } from '../helpers/cli.js';
import { appProject } from '../helpers/project.js';

describe('bad input gets one clear line on stderr and the documented exit code', () => {
  const project = appProject();

  it('unknown task: exit 2 and the list of known tasks', async () => {
    const res = await project.run(['enqueue', 'resise', 'x.jpg']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('tq: unknown task "resise" (known: boom, cleanup, ephemeral, flipflop, hello, resize, slow, stubborn)');
    expect(res.stdout).toBe('');
  });

  it('with --json every failure is one error document on stdout, usage errors included', async () => {
    const unknown = await project.run(['enqueue', 'resise', 'x.jpg', '--json']);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toEqual({
      error: {
        code: 'E_USAGE',
        message: 'unknown task "resise" (known: boom, cleanup, ephemeral, flipflop, hello, resize, slow, stubborn)',
        hint: null,
      },
    });
    const badFlag = await project.run(['inspect', 'queues', '--json', '--nosuch']);
    expect(badFlag.code).toBe(2);
    expect(JSON.parse(badFlag.stdout).error).toMatchObject({ code: 'E_USAGE', hint: 'see tq --help' });
    expect(JSON.parse(badFlag.stdout).error.message).toMatch(/--nosuch/);
  });

  it('missing file: exit 2 naming the file, nothing stored', async () => {
    const res = await project.run(['enqueue', 'resize', 'nope.jpg']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^tq: .*nope\.jpg.*$/m);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(project.file('media/original'))).toBe(false);
  });

  it('a FIFO named like an image: exit 2 at once (not waiting for a writer), nothing stored', async () => {
    execFileSync('mkfifo', [project.file('pipe.jpg')]);
    const res = await project.run(['enqueue', 'resize', 'pipe.jpg'], { timeoutMs: 10_000 });
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('tq: cannot read image "pipe.jpg": not a regular file');
    expect(fs.existsSync(project.file('media/original'))).toBe(false);
  });

  it('bad --payload JSON: exit 2 naming the flag', async () => {
    const res = await project.run(['enqueue', 'hello', '--payload', '{name:']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^tq: --payload is not valid JSON/);
  });

  it('too many positionals: exit 2 saying what the task takes', async () => {
    const res = await project.run(['enqueue', 'hello', 'a', 'b']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('tq: task "hello" takes 1 argument(s): name; got 2');
  });

  it('bad flag values and unknown options: exit 2', async () => {
    expect((await project.run(['enqueue', 'hello', 'x', '--delay', 'soon'])).code).toBe(2);
    expect((await project.run(['enqueue', 'hello', 'x', '--id', '12345'])).stderr).toMatch(/only digits/);
    expect((await project.run(['enqueue', 'hello', 'x', '--at', 'tomorrow'])).code).toBe(2);
    const unknown = await project.run(['enqueue', 'hello', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--frobnicate'/);
    expect((await project.run(['worker', '-c', 'many'])).code).toBe(2);
  });

  it('a payload over the size limit: exit 2', async () => {
    const big = JSON.stringify({ blob: 'x'.repeat(1024 * 1024 + 10) });
    const path = project.file('big.json');
    fs.writeFileSync(path, big);
    const res = await project.run(['enqueue', 'hello', '--payload', '@big.json']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/over the 1048576-byte limit/);
  });

  it('bad config: exit 2 naming the file and every bad key', async () => {
    const bad = makeProject(`import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  tasks: { t: defineTask({ attempts: 0, backoff: { type: 'linear', delay: '1s' }, run: () => 1 }) },
  schedules: { nightly: { task: 'missing', cron: '0 3 * * *' } },
  colour: 'blue',
} as any);
`);
    const res = await bad.run(['enqueue', 't']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^tq: tasks\.config\.ts: 4 problems:/);
    expect(res.stderr).toMatch(/tasks\.t\.attempts: must be a positive integer \(got 0\)/);
    expect(res.stderr).toMatch(/tasks\.t\.backoff: must be \{ type: 'exponential' \| 'fixed'/);
    expect(res.stderr).toMatch(/schedules\.nightly\.task: "missing" is not a defined task/);
    expect(res.stderr).toMatch(/colour: unknown key/);
  });

  it('a config that does not compile: exit 2 naming the file', async () => {
    const bad = makeProject('export default {{{');
    const res = await bad.run(['worker']);
    expect(res.code).toBe(2);
    // The position (line and column from 1) and the offending line with a caret under it.
    expect(res.stderr).toBe(
      'tq: tasks.config.ts:1:17: syntax error: Unexpected token\n  1 | export default {{{\n    |                 ^\n',
    );
  });

  it('no config file: exit 2 saying how to fix it', async () => {
    const res = await project.run(['worker', '--config', 'elsewhere.config.ts']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/no config file at elsewhere\.config\.ts — create tasks\.config\.ts/);
  });

  it('Redis unreachable: enqueue and worker fail fast with exit 1, password masked', async () => {
    const port = await freePort();
    const url = `redis://:s3cret-pass@127.0.0.1:${port}`;
    const started = Date.now();
    const enq = await project.run(['enqueue', 'hello', 'x'], { env: { TQ_REDIS_URL: url } });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(enq.code).toBe(1);
    expect(enq.stderr).toMatch(/^tq: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
    expect(enq.stderr).not.toContain('s3cret-pass');
    const worker = await project.run(['worker', '--redis', url]);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toMatch(/cannot reach Redis/);
    expect(worker.stderr + worker.stdout).not.toContain('s3cret-pass');
  });

  it('--help on every command shows examples; -V prints the version', async () => {
    for (const cmd of ['worker', 'enqueue', 'dev', 'demo']) {
      const res = await project.run([cmd, '--help']);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/Examples:/);
    }
    const v = await project.run(['-V']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('global options work before or after the command', async () => {
    const other = `${project.prefix}-other`;
    const before = await project.run(['--prefix', other, 'enqueue', 'hello', 'a', '--json']);
    const after = await project.run(['enqueue', 'hello', 'b', '--json', '--prefix', other]);
    expect(before.code).toBe(0);
    expect(after.code).toBe(0);
    const { Queue } = await import('bullmq');
    const queue = new Queue('default', { connection: { url: project.redisUrl }, prefix: other });
    try {
      expect(await queue.getWaitingCount()).toBe(2);
    } finally {
      await queue.close();
    }
  });
});
