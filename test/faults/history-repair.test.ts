import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { stopAfterTest } from '../helpers/cli.js';
import { bullQueue, eventually, query } from '../helpers/project.js';
import { faultsProject, producerFor, report } from './helpers.js';

describe('history after a crash, and with the database locked', () => {
  it('SIGKILL during a 2,000-run burst: every history row ends in the state Redis has, within the reconcile bound', async () => {
    const project = faultsProject();
    const spawn = (name: string) => stopAfterTest(project.spawn(['worker', '-Q', 'default', '-c', '8', '-n', name]));
    const steady = spawn('steady');
    const victim = spawn('victim');
    await Promise.all([steady.waitFor(/ready/), victim.waitFor(/ready/)]);
    const producer = await producerFor(project);
    const runs = await producer.enqueueMany(Array.from({ length: 2000 }, () => ({ task: 'noop', payload: {} })));
    await producer.close();
    // Kill one worker mid-burst: its last batch of run events (up to 20 ms of them) dies with it.
    await victim.waitFor(/noop\[\w+\] succeeded/);
    victim.kill('SIGKILL');
    await victim.exited;
    const queue = bullQueue(project, 'default');
    try {
      // Redis keeps the last 1,000 completed runs (DEFAULT_KEEP): wait until nothing is left to run.
      await eventually(
        async () => {
          const c = await queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed');
          return Object.values(c).every((n) => n === 0);
        },
        60_000,
        'every run done in Redis',
      );
    } finally {
      await queue.close();
    }
    const completedInRedisAt = Date.now();
    const wrong = () =>
      query<{ n: number }>(project.dbFile, "SELECT count(*) AS n FROM task_runs WHERE state != 'completed'")[0]!.n +
      (2000 - query<{ n: number }>(project.dbFile, 'SELECT count(*) AS n FROM task_runs')[0]!.n);
    // reconcileAfter is 3 s in this config: rows still wrong are repaired within about twice that.
    await eventually(() => wrong() === 0, 20_000, 'every history row completed');
    const tookMs = Date.now() - completedInRedisAt;
    expect(query<{ n: number }>(project.dbFile, 'SELECT count(*) AS n FROM task_runs')[0]!.n).toBe(runs.length);
    const repaired = /history: (\d+) run\(s\) brought up to date from Redis/.exec(steady.output)?.[1] ?? '0';
    report(
      `SIGKILL during 2,000 runs: ${repaired} history row(s) repaired from Redis; 0 wrong ${(tookMs / 1000).toFixed(1)} s after Redis had them all (was: wrong for good)`,
    );
  }, 120_000);

  it('a write lock held by another process for 12 s does not slow runs; history catches up after it', async () => {
    const project = faultsProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'locked']));
    await worker.waitFor(/ready/);
    const producer = await producerFor(project);
    const lock = new Database(project.dbFile, { timeout: 5000 });
    lock.exec('BEGIN IMMEDIATE');
    let released = false;
    try {
      const first = await producer.enqueue('work', {});
      await worker.waitFor(new RegExp(`work\\[${first.id.slice(-6)}\\] succeeded in ([0-9.]+)s`));
      const second = await producer.enqueue('work', {});
      await worker.waitFor(new RegExp(`work\\[${second.id.slice(-6)}\\] succeeded in ([0-9.]+)s`));
      // A 200 ms run takes 200 ms, not the busy timeout (10 s) per history write.
      const times = [...worker.output.matchAll(/work\[\w+\] succeeded in ([0-9.]+)s/g)].map((m) => Number(m[1]));
      expect(times).toHaveLength(2);
      for (const t of times) expect(t).toBeLessThan(0.7);
      await worker.waitFor(
        /history recorder: the history database is locked by another process \(SQLITE_BUSY\); runs go on, and history catches up once it is free/,
        10_000,
      );
      await new Promise((r) => setTimeout(r, 12_000 - 2_000));
      lock.exec('ROLLBACK');
      released = true;
      await worker.waitFor(/history recorder: recovered; history is current again/, 10_000);
      await eventually(
        () => query<{ n: number }>(project.dbFile, "SELECT count(*) AS n FROM task_runs WHERE state = 'completed'")[0]!.n === 2,
        10_000,
        'history caught up',
      );
      report(
        `SQLite write lock held 12 s by another process: 200 ms runs took ${times.map((t) => `${t}s`).join(', ')} (was 10.5 s), history caught up after the lock`,
      );
    } finally {
      if (!released) lock.exec('ROLLBACK');
      lock.close();
      await producer.close();
    }
  }, 60_000);
});
