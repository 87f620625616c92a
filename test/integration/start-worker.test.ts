import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  defineConfig,
  defineTask,
  FatalTaskError,
  RedisUnavailableError,
  RunFailedError,
  startWorker,
  type RunEvent,
} from '../../src/index.js';
import { configFromObject } from '../../src/config/index.js';
import { Admin } from '../../src/queue/index.js';
import { pollUntil } from '../../src/core/async.js';
import { eventually, query } from '../helpers/project.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const config = defineConfig({
  tasks: {
    hello: defineTask({ run: async (p: { name: string }) => `hello ${p.name}` }),
    fatal: defineTask({
      attempts: 3,
      run: async () => {
        throw new FatalTaskError('no way');
      },
    }),
    chatty: defineTask({
      queue: 'other',
      run: async (_p: Record<string, never>, ctx) => {
        await ctx.progress(50);
        await ctx.log('half way');
        return { done: true };
      },
    }),
  },
});

/** Handles (sockets, timers, child processes) this process holds now, by kind. */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** The kinds of which more are held now than in `before`. */
function grownSince(before: Map<string, number>): string[] {
  return [...resources()].filter(([kind, n]) => n > (before.get(kind) ?? 0)).map(([kind, n]) => `${kind} ${before.get(kind) ?? 0} -> ${n}`);
}

/** Waits (briefly: a close may leave a timer that is about to fire) until nothing grew since `before`. */
async function leftSince(before: Map<string, number>): Promise<string[]> {
  await pollUntil(() => (grownSince(before).length === 0 ? true : undefined), { intervalMs: 25, timeoutMs: 2000 });
  return grownSince(before);
}

describe('startWorker (a worker started from code)', () => {
  let redis: TestRedis;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-start-worker-'));
  const prefix = `sw${randomBytes(4).toString('hex')}`;
  const db = path.join(dir, 'tq.db');
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs tasks enqueued by a client, records them in Redis and SQLite, and leaves no handle after close()', async () => {
    const before = resources();
    const events: RunEvent[] = [];
    const worker = await startWorker(config, {
      redis: redis.url,
      prefix,
      db,
      dir,
      concurrency: 2,
      name: 'in-process-1',
      logger: quiet,
      onEvent: (e) => events.push(e),
    });
    expect(worker.name).toBe('in-process-1');
    expect(worker.queues).toEqual(['default', 'other']);
    expect(worker.concurrency).toBe(2);

    const client = createClient(config, { redis: redis.url, prefix, db, dir });
    let ids: string[];
    try {
      const hello = await client.enqueue('hello', { name: 'code' });
      const fatal = await client.enqueue('fatal', {});
      const chatty = await client.enqueue('chatty', {});
      expect(await hello.wait({ timeout: '20s' })).toBe('hello code');
      await expect(fatal.wait({ timeout: '20s' })).rejects.toBeInstanceOf(RunFailedError);
      expect(await chatty.wait({ timeout: '20s' })).toEqual({ done: true });
      ids = [hello.id, fatal.id, chatty.id];
    } finally {
      await client.close();
    }

    // Results are in Redis, as BullMQ keeps them.
    const queue = new Queue('default', { connection: { url: redis.url }, prefix });
    try {
      expect((await queue.getJob(ids[0]!))?.returnvalue).toBe('hello code');
      expect(await queue.getJobState(ids[1]!)).toBe('failed');
    } finally {
      await queue.close();
    }
    // The worker's own recorder writes the history: no other process catches the file up here.
    const rows = await eventually(
      () => {
        const found = query<{ job_id: string; state: string; attempt: number; result: string | null; logs: string | null; worker: string }>(
          db,
          'SELECT job_id, state, attempt, result, logs, worker FROM task_runs ORDER BY job_id',
        );
        return found.length === 3 && found.every((r) => r.state !== 'waiting' && r.state !== 'active') ? found : undefined;
      },
      15_000,
      'three finished rows in the history',
    );
    const byId = new Map(rows.map((r) => [r.job_id, r]));
    expect(byId.get(ids[0]!)).toMatchObject({ state: 'completed', attempt: 1, result: '"hello code"', worker: 'in-process-1' });
    expect(byId.get(ids[1]!)).toMatchObject({ state: 'failed', attempt: 1 });
    expect(JSON.parse(byId.get(ids[2]!)!.logs ?? '[]')).toEqual(['half way']);

    expect(worker.stats()).toMatchObject({ processed: 2, failed: 1, active: 0 });
    expect(
      events
        .filter((e) => e.type === 'completed')
        .map((e) => e.jobId)
        .sort(),
    ).toEqual([ids[0]!, ids[2]!].sort());

    const report = await worker.close();
    expect(report).toEqual({ handedBack: [], forced: false });
    // A second close is the same shutdown, not a new one.
    await expect(worker.close()).resolves.toEqual(report);
    expect(await leftSince(before)).toEqual([]);
  });

  it('is listed by its heartbeat and stops by itself on `tq control shutdown` (admin.shutdown)', async () => {
    const before = resources();
    const worker = await startWorker(config, { redis: redis.url, prefix, db, dir, queues: ['other'], name: 'in-process-2', logger: quiet });
    const admin = await Admin.connect(configFromObject(config, dir), { redisUrl: redis.url, prefix });
    try {
      expect((await admin.workers()).map((w) => w.name)).toContain('in-process-2');
      expect(await admin.shutdown('nobody-by-that-name')).toEqual([]);
      expect(await admin.shutdown('in-process-2')).toEqual(['in-process-2']);
      // Nobody calls close(): the control request does, and the worker leaves the registry.
      await eventually(async () => (await admin.workers()).every((w) => w.name !== 'in-process-2'), 15_000, 'the worker to leave');
    } finally {
      await admin.close();
    }
    await worker.close();
    expect(await leftSince(before)).toEqual([]);
  });

  it('fails fast with one clear error when Redis does not answer, and leaves nothing open', async () => {
    const before = resources();
    await expect(startWorker(config, { redis: 'redis://127.0.0.1:1', prefix, db, dir, logger: quiet })).rejects.toBeInstanceOf(
      RedisUnavailableError,
    );
    expect(await leftSince(before)).toEqual([]);
  });

  it('takes settings from the environment when no option gives them, as the CLI does', async () => {
    const worker = await startWorker(config, {
      // TQ_DB, like --db, is relative to the working directory (the config's own paths are relative to it).
      env: { TQ_REDIS_URL: redis.url, TQ_PREFIX: prefix, TQ_DB: path.relative(process.cwd(), path.join(dir, 'env.db')) },
      dir,
      queues: ['other'],
      name: 'from-env',
      logger: quiet,
    });
    const admin = await Admin.connect(configFromObject(config, dir), { redisUrl: redis.url, prefix });
    try {
      // Its heartbeat is under the environment's prefix, its database where TQ_DB says.
      expect((await admin.workers()).map((w) => w.name)).toContain('from-env');
      expect(fs.existsSync(path.join(dir, 'env.db'))).toBe(true);
    } finally {
      await admin.close();
      await worker.close();
    }
  });
});
