import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, makeProject, stopAfterTest, type TestProject } from '../helpers/cli.js';
import { bullQueue, eventually, runRow } from '../helpers/project.js';
import { connect, type Redis } from '../../src/queue/index.js';
import { report } from './helpers.js';

// libfaketime (Debian package `faketime`) shifts the clock of one process: Node's Date.now()
// follows it (checked: a process under FAKETIME=+1h reads one hour ahead), timers do not.
const FAKETIME_LIB = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
].find((f) => fs.existsSync(f));

const skewed = (offset: string) => {
  if (!FAKETIME_LIB) throw new Error('libfaketime is missing: install the Debian package `faketime` (CI does)');
  return { LD_PRELOAD: FAKETIME_LIB, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
};

const clockProject = (maxClockOffset: string) =>
  makeProject(
    fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'clocks-config.ts.txt'), 'utf8').replace('MAX_CLOCK_OFFSET', maxClockOffset),
  );

/** A plain connection to the project's Redis for the duration of `use`. */
async function withRedis<T>(p: TestProject, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connect(p.redisUrl, { role: 'producer', name: 'test-clocks' });
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** Now by the Redis server's clock. */
function serverNow(p: TestProject): Promise<number> {
  return withRedis(p, async (redis) => {
    const [s, us] = await redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  });
}

/** When BullMQ's own event stream says run `id` was made due (its first `delayed` event). */
function delayedUntil(p: TestProject, id: string): Promise<number | undefined> {
  return withRedis(p, async (redis) => {
    const entries = await redis.xrange(`${p.prefix}:default:events`, '-', '+');
    for (const [, fields] of entries) {
      const f = Object.fromEntries(fields.flatMap((v, i) => (i % 2 === 0 ? [[v, fields[i + 1]]] : [])));
      if (f.event === 'delayed' && f.jobId === id) return Number(f.delay);
    }
    return undefined;
  });
}

const ms = (iso: string | null) => (iso ? Date.parse(iso) : NaN);

describe("clocks: a worker whose host clock is off judges and schedules on Redis's clock", () => {
  it('a worker 1 h ahead refuses to start past worker.maxClockOffset, exit 2 and one line', async () => {
    const p = clockProject("'30s'");
    const w = stopAfterTest(p.spawn(['worker', '-n', 'ahead-refused'], { env: skewed('+1h') }));
    expect(await w.exited).toBe(2);
    expect(w.output).toMatch(/worker not started: this host's clock is 1h 0m ahead of Redis's \(over worker\.maxClockOffset, 30\.0s\)/);
    expect(w.output).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('allowed to run 1 h ahead: it warns, backoff retries and history times are on the server clock', async () => {
    const p = clockProject('false');
    const w = stopAfterTest(p.spawn(['worker', '-n', 'ahead'], { env: skewed('+1h') }));
    await w.waitFor(/ready/);
    expect(w.output).toMatch(/this host's clock is 1h 0m ahead of Redis's; delayed runs are promoted on workers' clocks: run NTP/);

    const before = await serverNow(p);
    const r = await p.run(['enqueue', 'flaky', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as { id: string }).id;
    const due = await eventually(() => delayedUntil(p, id), 15_000, 'the retry to be scheduled');
    const after = await serverNow(p);
    // Due 10 s after the failure by Redis's clock (was: 1 h 10 s, by the worker's).
    expect(due).toBeGreaterThanOrEqual(before + 10_000 - 500);
    expect(due).toBeLessThanOrEqual(after + 10_000);

    // This worker promotes on its own clock, so it runs the retry at once; history is on Redis's.
    const row = await eventually(() => {
      const x = runRow(p, id);
      return x?.state === 'completed' ? x : undefined;
    }, 20_000);
    const end = await serverNow(p);
    expect(row.attempt).toBe(2);
    for (const t of [row.enqueued_at, row.started_at, row.finished_at]) {
      expect(ms(t)).toBeGreaterThanOrEqual(before - 1000);
      expect(ms(t)).toBeLessThanOrEqual(end + 1000);
    }

    const inspect = await p.run(['inspect', 'workers', '--json']);
    expect(inspect.code, inspect.stderr).toBe(0);
    const worker = (
      JSON.parse(inspect.stdout) as { workers: { name: string; clockOffsetMs: number; heartbeatAgeMs: number }[] }
    ).workers.find((x) => x.name === 'ahead');
    expect(worker?.clockOffsetMs).toBeGreaterThan(-3_600_000 - 5000);
    expect(worker?.clockOffsetMs).toBeLessThan(-3_600_000 + 5000);
    // The heartbeat's time is on Redis's clock too: not an hour in the future.
    expect(worker?.heartbeatAgeMs).toBeLessThan(10_000);
    const table = await p.run(['inspect', 'workers']);
    expect(table.stdout).toMatch(/clock/);
    expect(table.stdout).toMatch(/1h 0m ahead/);

    const enqueue = await p.run(['enqueue', 'ok'], { env: skewed('+1h') });
    expect(enqueue.code, enqueue.stderr).toBe(0);
    expect(enqueue.stderr).toMatch(/this host's clock is 1h 0m ahead of Redis's/);
    report(
      `worker 1 h ahead: backoff retry due ${((due - before) / 1000).toFixed(1)} s after enqueue by Redis's clock (was 3610 s); history times within 1 s of Redis's`,
    );
  }, 90_000);

  it("the unknown-task grace counts on Redis's clock: a worker 1 h ahead parks the run instead of failing it", async () => {
    const p = clockProject('false');
    const w = stopAfterTest(p.spawn(['worker', '-n', 'ahead-unknown'], { env: skewed('+1h') }));
    await w.waitFor(/ready/);
    const queue = bullQueue(p, 'default');
    try {
      const before = await serverNow(p);
      const job = await queue.add('mystery', { from: 'a newer deploy' });
      await w.waitFor(/unknown task "mystery"/);
      const due = await eventually(() => delayedUntil(p, job.id!), 10_000, 'the run to be parked');
      // Put back for a tenth of the 5 min grace, by Redis's clock (was: failed at once).
      expect(due).toBeGreaterThanOrEqual(before + 29_000);
      expect(due).toBeLessThanOrEqual((await serverNow(p)) + 31_000);
      expect(await queue.getJobState(job.id!)).not.toBe('failed');
      expect(w.output).not.toMatch(/no worker knew it within/);
      report(
        `unknown task under a worker 1 h ahead: parked until +${((due - before) / 1000).toFixed(0)} s by Redis's clock (was failed at once)`,
      );
    } finally {
      await queue.close();
    }
  }, 60_000);
});
