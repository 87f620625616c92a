import os from 'node:os';
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { makeProject, stopAfterTest } from '../helpers/cli.js';
import { appConfig, appProject, bullQueue, eventually, query } from '../helpers/project.js';
import { startRedis } from '../helpers/redis-server.js';

const idOf = (stdout: string) => stdout.trim().split('\n').pop()!;

describe('tq worker lifecycle', () => {
  it('SIGTERM during a slow run lets it finish, then exits 0', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'slow', '-l', 'debug']));
    await worker.waitFor(/ready/);
    const enq = await project.run(['enqueue', 'slow', '1500']);
    const id = idOf(enq.stdout);
    await worker.waitFor(new RegExp(`slow\\[${id.slice(-6)}\\] started`));
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output).toMatch(/warm shutdown; 1 active run/);
    expect(worker.output).toMatch(new RegExp(`slow\\[${id.slice(-6)}\\] succeeded`));
    const [run] = query(project.dbFile, 'SELECT state, result FROM task_runs WHERE job_id = ?', id);
    expect(run).toEqual({ state: 'completed', result: JSON.stringify({ slept: 1500 }) });
  });

  it('SIGTERM past --shutdown-timeout hands the run back to waiting at once (not failed, not lost)', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'slow', '-l', 'debug', '--shutdown-timeout', '500ms']));
    await worker.waitFor(/ready/);
    const id = idOf((await project.run(['enqueue', 'stubborn', '4000'])).stdout);
    await worker.waitFor(new RegExp(`stubborn\\[${id.slice(-6)}\\] started`));
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output).toMatch(/handed back 1 run/);
    const queue = bullQueue(project, 'slow');
    try {
      const job = await queue.getJob(id);
      expect(await job!.getState()).toBe('waiting');
      expect(job!.attemptsMade).toBe(0);
    } finally {
      await queue.close();
    }
    const [run] = query(project.dbFile, 'SELECT state FROM task_runs WHERE job_id = ?', id);
    expect(run).toEqual({ state: 'waiting' });

    // Another worker picks it up and finishes it.
    const next = stopAfterTest(project.spawn(['worker', '-Q', 'slow']));
    await next.waitFor(new RegExp(`stubborn\\[${id.slice(-6)}\\] succeeded`), 40_000);
  });

  it('one live worker per name: a second one refuses to start naming the holder; a stopped or crashed holder frees the name', async () => {
    const project = appProject();
    const first = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'twin']));
    await first.waitFor(/ready/);
    const second = await project.run(['worker', '-Q', 'default', '-n', 'twin']);
    expect(second.code).toBe(2);
    expect(second.stderr.trim()).toBe(
      `tq: worker name "twin" is held by a live worker (host ${os.hostname()}, pid ${first.child.pid}) — start this one with another -n, or stop that one first (tq control shutdown twin)`,
    );
    // A holder killed outright (a supervisor restarts it with the same name) does not block it.
    first.kill('SIGKILL');
    await first.exited;
    const restarted = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'twin']));
    await restarted.waitFor(/ready/);
    restarted.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
    const again = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'twin']));
    await again.waitFor(/ready/);
  });

  it('a second signal exits at once', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'slow', '-l', 'debug']));
    await worker.waitFor(/ready/);
    const id = idOf((await project.run(['enqueue', 'stubborn', '20000'])).stdout);
    await worker.waitFor(new RegExp(`stubborn\\[${id.slice(-6)}\\] started`));
    worker.kill('SIGTERM');
    await worker.waitFor(/warm shutdown/);
    const t = Date.now();
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(1);
    expect(Date.now() - t).toBeLessThan(3000);
  });

  it('a run of a task this worker does not know is put back for the grace period, then failed', async () => {
    // The producer knows `newtask`; the worker (an older deploy) does not.
    const producer = makeProject(
      `import { defineConfig, defineTask } from 'tq';
export default defineConfig({ tasks: { newtask: defineTask({ run: () => 'new' }) } });`,
    );
    const older = appProject({ grace: '2s', prefix: producer.prefix });
    const worker = stopAfterTest(older.spawn(['worker', '-Q', 'default', '-l', 'debug']));
    await worker.waitFor(/ready/);
    const t = Date.now();
    const res = await producer.run(['enqueue', 'newtask', '--wait', '--json']);
    expect(res.code).toBe(1);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1900);
    const doc = JSON.parse(res.stdout);
    expect(doc.error).toMatch(/unknown task "newtask": no worker knew it within 2\.0s/);
    // Logged once, not once per retry.
    expect(worker.output.match(/unknown task "newtask" in queue "default"/g)).toHaveLength(1);
  });

  it('two workers and a producer leave exactly one history row per run, each final', async () => {
    const project = appProject();
    const a = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-c', '4', '-n', 'a']));
    const b = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-c', '4', '-n', 'b']));
    await Promise.all([a.waitFor(/ready/), b.waitFor(/ready/)]);
    const enqueues = await Promise.all(Array.from({ length: 12 }, (_, i) => project.run(['enqueue', 'hello', `n${i}`, '--json'])));
    const ids = enqueues.map((r) => JSON.parse(r.stdout).id as string);
    await eventually(
      () => query<{ n: number }>(project.dbFile, "SELECT count(*) AS n FROM task_runs WHERE state = 'completed'")[0]!.n === 12,
      20_000,
      '12 completed rows',
    );
    const rows = query<{ job_id: string; state: string; worker: string; attempt: number }>(project.dbFile, 'SELECT * FROM task_runs');
    expect(rows).toHaveLength(12);
    expect(new Set(rows.map((r) => r.job_id))).toEqual(new Set(ids));
    for (const r of rows) {
      expect(r.state).toBe('completed');
      expect(r.attempt).toBe(1);
      expect(['a', 'b']).toContain(r.worker);
    }
  });
});

describe('Redis going away', () => {
  it('a worker reconnects after a Redis restart and keeps consuming; acknowledged runs are kept', async () => {
    const redis = await startRedis({ appendonly: true });
    try {
      const project = makeProject(appConfig(), { redisUrl: redis.url });
      const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
      await worker.waitFor(/ready/);
      expect((await project.run(['enqueue', 'hello', 'before', '--wait'])).code).toBe(0);
      await redis.restart();
      await worker.waitFor(/Redis connection lost/, 15_000);
      const res = await project.run(['enqueue', 'hello', 'after', '--wait', '--timeout', '30s'], { timeoutMs: 45_000 });
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toBe('hello after');
      // One line per state change, not a flood.
      expect(worker.output.match(/Redis connection lost/g)!.length).toBeLessThanOrEqual(2);
      await worker.stop();
    } finally {
      await redis.stop();
    }
  });

  it('runs the warmup of the tasks it serves before it is ready, and only theirs', async () => {
    // Each warmup writes a marker file with the time it finished; the run writes when it started.
    const project = makeProject(`
import fs from 'node:fs';
import { defineConfig, defineTask } from 'tq';
const mark = (name: string) => fs.writeFileSync(name, String(Date.now()));
export default defineConfig({
  tasks: {
    warm: defineTask({ queue: 'a', warmup: async () => { await new Promise((r) => setTimeout(r, 300)); mark('warmed-a'); }, run: async () => { mark('ran-a'); return 'ok'; } }),
    other: defineTask({ queue: 'b', warmup: async () => mark('warmed-b'), run: async () => null }),
    broken: defineTask({ queue: 'a', warmup: async () => { throw new Error('no model file'); }, run: async () => null }),
  },
});
`);
    const id = idOf((await project.run(['enqueue', 'warm'])).stdout);
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'a']));
    await worker.waitFor(/ready/);
    expect(fs.existsSync(path.join(project.dir, 'warmed-a'))).toBe(true);
    expect(fs.existsSync(path.join(project.dir, 'warmed-b'))).toBe(false);
    expect(worker.output).toMatch(/broken: warmup failed \(no model file\)/);
    await worker.waitFor(new RegExp(`warm\\[${id.slice(-6)}\\] succeeded`));
    const warmedAt = Number(fs.readFileSync(path.join(project.dir, 'warmed-a'), 'utf8'));
    const ranAt = Number(fs.readFileSync(path.join(project.dir, 'ran-a'), 'utf8'));
    expect(ranAt).toBeGreaterThanOrEqual(warmedAt);
  });
});
