import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { tqKeys } from '../../src/queue/keys.js';
import { RunEventReader } from '../../src/queue/run-stream.js';
import { Recorder } from '../../src/store/recorder.js';
import { openStore, type Store } from '../../src/store/store.js';

/**
 * History follows moves no tq process reports, read from BullMQ's own event stream of each
 * queue: a plain BullMQ producer's runs (payload, enqueue time), a plain BullMQ worker's
 * starts, retries and ends, an operator's retry, removal and promotion.
 */
const redisUrl = inject('redisUrl');
const dirs: string[] = [];
const closers: (() => Promise<unknown> | void)[] = [];
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(async () => {
  await redis.quit();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function world() {
  const prefix = `interop-${randomBytes(4).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-interop-'));
  dirs.push(dir);
  const store = openStore(path.join(dir, 'tq.db'));
  closers.push(() => store.close());
  const connection = { url: redisUrl };
  const queue = (name: string) => {
    const q = new Queue(name, { connection, prefix });
    closers.push(() => q.close());
    return q;
  };
  const worker = (name: string, fn: (job: Job) => Promise<unknown>) => {
    const w = new Worker(name, fn, { connection, prefix });
    closers.push(() => w.close());
    return w;
  };
  /** Brings the file up to date from Redis, the way a short-lived command does. */
  const catchUp = (target: Store = store) => new Recorder(target.db, new RunEventReader(redis, prefix), { stream: prefix }).catchUp();
  return { prefix, store, queue, worker, catchUp };
}

/** Resolves once `worker` has ended `n` runs (completed or failed for good). */
function ends(worker: Worker, n: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const one = () => ++seen === n && resolve();
    worker.on('completed', one);
    worker.on('failed', (job) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) one();
    });
  });
}

describe('history of runs that no tq process moved', () => {
  it("records a plain producer's runs with payload and enqueue time, and a plain worker's ends", async () => {
    const w = world();
    const q = w.queue('plain');
    const before = Date.now();
    await q.add('report', { customer: 'acme', n: 1 }, { jobId: 'p-ok' });
    await q.add('report', { customer: 'zeta', n: 2 }, { jobId: 'p-bad', attempts: 2 });
    await w.catchUp();
    const waiting = w.store.runs.get('p-ok')!;
    expect(waiting.state).toBe('waiting');
    expect(JSON.parse(waiting.payload!)).toEqual({ customer: 'acme', n: 1 });
    expect(waiting.task).toBe('report');
    expect(waiting.queue).toBe('plain');
    expect(Date.parse(waiting.enqueued_at!)).toBeGreaterThanOrEqual(before - 1000);
    // The queue joined the registry: inspect, the monitor and control purge list it.
    expect(await redis.smembers(tqKeys(w.prefix).queues)).toContain('plain');

    const worker = w.worker('plain', async (job) => {
      if (job.id === 'p-bad') throw new Error(`no customer ${job.data.customer} (attempt ${job.attemptsMade + 1})`);
      return { rows: 42 };
    });
    await ends(worker, 2);
    await w.catchUp();
    const ok = w.store.runs.get('p-ok')!;
    expect(ok).toMatchObject({ state: 'completed', attempt: 1, result: '{"rows":42}' });
    expect(ok.started_at).not.toBeNull();
    expect(ok.finished_at).not.toBeNull();
    const bad = w.store.runs.get('p-bad')!;
    expect(bad).toMatchObject({ state: 'failed', attempt: 2, error: 'no customer zeta (attempt 2)' });
    // BullMQ's stream does not say why an attempt retried at once (no backoff) failed: only the
    // last error is known for a plain worker's run (tq's own workers report every attempt's).
    expect(JSON.parse(bad.errors!)).toMatchObject([{ attempt: 2, error: 'no customer zeta (attempt 2)' }]);
  });

  it("shows a plain worker's attempt retried after a backoff as retrying, then the end", async () => {
    const w = world();
    const q = w.queue('backoff');
    await q.add('sync', { x: 1 }, { jobId: 'b-1', attempts: 2, backoff: { type: 'fixed', delay: 60_000 } });
    const worker = w.worker('backoff', async () => {
      throw new Error('remote busy');
    });
    const delayed = new Promise<void>((resolve) => worker.once('failed', () => resolve()));
    await delayed;
    await w.catchUp();
    const row = w.store.runs.get('b-1')!;
    expect(row).toMatchObject({ state: 'retrying', attempt: 1 });
    expect(Date.parse(row.due_at!)).toBeGreaterThan(Date.now() + 30_000);
    // Promoted by an operator: the second attempt runs and fails for good.
    const ended = ends(worker, 1);
    await (await q.getJob('b-1'))!.promote();
    await ended;
    await w.catchUp();
    expect(w.store.runs.get('b-1')).toMatchObject({ state: 'failed', attempt: 2, error: 'remote busy' });
  });

  it('reopens a failed run retried by an operator, keeps the first error, and ends it completed', async () => {
    const w = world();
    const q = w.queue('ops');
    await q.add('flaky', { x: 1 }, { jobId: 'r-1', attempts: 1 });
    let calls = 0;
    const worker = w.worker('ops', async () => {
      calls += 1;
      if (calls === 1) throw new Error('upstream down');
      return 'fine';
    });
    await ends(worker, 1);
    await w.catchUp();
    expect(w.store.runs.get('r-1')).toMatchObject({ state: 'failed', attempt: 1 });

    const completed = new Promise<void>((resolve) => worker.once('completed', () => resolve()));
    await (await q.getJob('r-1'))!.retry('failed');
    await completed;
    await w.catchUp();
    const row = w.store.runs.get('r-1')!;
    expect(row).toMatchObject({ state: 'completed', attempt: 2, result: '"fine"', error: null });
    expect(JSON.parse(row.errors!)).toMatchObject([{ attempt: 1, error: 'upstream down' }]);
  });

  it('ends a delayed run removed by another client as cancelled, and a promoted one waits', async () => {
    const w = world();
    const q = w.queue('later');
    await q.add('remind', { who: 'a' }, { jobId: 'd-removed', delay: 60_000 });
    await q.add('remind', { who: 'b' }, { jobId: 'd-promoted', delay: 60_000 });
    await w.catchUp();
    expect(w.store.runs.get('d-removed')!.state).toBe('delayed');
    await (await q.getJob('d-removed'))!.remove();
    await (await q.getJob('d-promoted'))!.promote();
    await w.catchUp();
    const removed = w.store.runs.get('d-removed')!;
    expect(removed.state).toBe('cancelled');
    expect(removed.error).toMatch(/removed from Redis by another client while delayed/);
    expect(removed.finished_at).not.toBeNull();
    expect(w.store.runs.get('d-promoted')!.state).toBe('waiting');
  });
});
