import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineConfig, defineTask, RedisUnavailableError, startBeat, startWorker } from '../../src/index.js';
import { pollUntil } from '../../src/core/async.js';
import { eventually, query } from '../helpers/project.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const config = defineConfig({
  tasks: {
    tick: defineTask({ queue: 'ticks', run: async () => 'tock' }),
  },
  schedules: {
    'every-second': { task: 'tick', every: '1s' },
  },
});

function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** The kinds of handle more numerous now than in `before`, after a short grace for timers about to fire. */
async function leftSince(before: Map<string, number>): Promise<string[]> {
  const grown = () =>
    [...resources()].filter(([kind, n]) => n > (before.get(kind) ?? 0)).map(([kind, n]) => `${kind} ${before.get(kind) ?? 0} -> ${n}`);
  await pollUntil(() => (grown().length === 0 ? true : undefined), { intervalMs: 25, timeoutMs: 2000 });
  return grown();
}

describe('startBeat (the scheduler started from code)', () => {
  let redis: TestRedis;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-start-beat-'));
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('enqueues an `every` schedule into Redis, records it in its history, and leaves no handle after close()', async () => {
    const prefix = `sb${randomBytes(4).toString('hex')}`;
    const db = path.join(dir, `${prefix}.db`);
    const before = resources();
    const beat = await startBeat(config, { redis: redis.url, prefix, db, dir, logger: quiet });
    expect(beat.schedules).toEqual(['every-second']);
    const queue = new Queue('ticks', { connection: { url: redis.url }, prefix });
    try {
      await eventually(async () => (await queue.getJobCounts('wait')).wait! >= 2, 15_000, 'two scheduled runs in Redis');
      const [job] = await queue.getJobs(['wait'], 0, 0, true);
      expect(job?.name).toBe('tick');
    } finally {
      await queue.close();
    }
    expect(beat.stats().dispatched).toBeGreaterThanOrEqual(2);
    // The beat's own recorder brings them into this host's history.
    await eventually(
      () => query<{ n: number }>(db, "SELECT count(*) AS n FROM task_runs WHERE task = 'tick'")[0]!.n >= 2,
      15_000,
      'history rows',
    );

    await beat.close();
    await expect(beat.done).resolves.toBeUndefined();
    expect(await leftSince(before)).toEqual([]);
  });

  it('with history: false opens no database; a worker started beside it runs what it enqueues', async () => {
    const prefix = `sb${randomBytes(4).toString('hex')}`;
    const db = path.join(dir, `${prefix}.db`);
    const before = resources();
    const beat = await startBeat(config, { redis: redis.url, prefix, db, dir, logger: quiet, history: false });
    expect(fs.existsSync(db)).toBe(false);
    const worker = await startWorker(config, { redis: redis.url, prefix, db, dir, logger: quiet });
    try {
      await eventually(() => worker.stats().processed >= 1, 15_000, 'a scheduled run done by the worker');
    } finally {
      await beat.close();
      await worker.close();
    }
    expect(await leftSince(before)).toEqual([]);
  });

  it('fails fast when Redis does not answer', async () => {
    await expect(startBeat(config, { redis: 'redis://127.0.0.1:1', dir, logger: quiet })).rejects.toBeInstanceOf(RedisUnavailableError);
  });
});
