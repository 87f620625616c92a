import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/run-events.js';
import { lookupRuns } from '../../src/queue/run-lookup.js';
import { reconcileRuns } from '../../src/store/reconcile.js';
import { openStore, type Store } from '../../src/store/index.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const enqueued = (jobId: string, at: number): RunEvent => ({
  type: 'enqueued',
  jobId,
  task: 't',
  queue: 'q',
  at,
  attempt: 0,
  payload: { n: jobId },
});

describe('history repair: rows whose end was never recorded follow what Redis knows', () => {
  let server: TestRedis;
  let redis: Redis;
  let store: Store;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
    store = openStore(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tq-reconcile-')), 'tq.db'));
  });
  afterAll(async () => {
    store.close();
    redis.disconnect();
    await server.stop();
  });

  it('applies ends Redis knows, marks runs Redis lost, leaves pending ones, and asks again only after recheckMs', async () => {
    const connection = { host: '127.0.0.1', port: server.port };
    const queue = new Queue('q', { connection, prefix: 'rc' });
    const worker = new Worker(
      'q',
      async (job) => {
        if (job.id === 'j-failed') throw new UnrecoverableError('bad input');
        return { done: job.id };
      },
      { connection, prefix: 'rc', autorun: false },
    );
    let ended = 0;
    const ends = new Promise<void>((resolve) => {
      const one = () => ++ended === 2 && resolve();
      worker.on('completed', one);
      worker.on('failed', one);
    });
    await queue.add('t', { n: 'j-done' }, { jobId: 'j-done' });
    await queue.add('t', { n: 'j-failed' }, { jobId: 'j-failed' });
    void worker.run();
    await ends;
    await worker.close();
    await queue.add('t', { n: 'j-waiting' }, { jobId: 'j-waiting' });

    // History saw them enqueued and started, then the process that ran them died: no ends.
    const t0 = Date.now();
    store.db
      .transaction(() => {
        store.runs.apply(['j-done', 'j-failed', 'j-waiting', 'j-gone'].map((id) => enqueued(id, t0)));
        store.runs.apply(
          ['j-done', 'j-failed'].map(
            (jobId) => ({ type: 'active', jobId, task: 't', queue: 'q', at: t0, attempt: 1, worker: 'w1' }) as RunEvent,
          ),
        );
      })
      .immediate();
    const lookup = (runs: readonly { id: string; queue: string }[]) => lookupRuns(redis, 'rc', runs);

    // Fresh rows are not checked (their events may still be on their way).
    expect(await reconcileRuns(store.db, store.runs, lookup, { staleMs: 60_000, recheckMs: 300_000, limit: 100 })).toEqual({
      checked: 0,
      repaired: 0,
      lost: 0,
    });

    const later = t0 + 120_000;
    const report = await reconcileRuns(store.db, store.runs, lookup, { staleMs: 60_000, recheckMs: 300_000, limit: 100, now: later });
    expect(report).toEqual({ checked: 4, repaired: 2, lost: 1 });
    expect(store.runs.get('j-done')).toMatchObject({ state: 'completed', result: JSON.stringify({ done: 'j-done' }), attempt: 1 });
    expect(store.runs.get('j-failed')).toMatchObject({ state: 'failed', error: 'bad input' });
    expect(store.runs.get('j-waiting')).toMatchObject({ state: 'waiting' });
    const gone = store.runs.get('j-gone')!;
    expect(gone.state).toBe('lost');
    expect(gone.error).toMatch(/^lost: Redis no longer has this run, and history never saw it end \(last seen waiting, attempt 0\)/);
    // The payload history had is kept.
    expect(JSON.parse(gone.payload!)).toEqual({ n: 'j-gone' });

    // The pending one is not asked about again until recheckMs has passed.
    expect(
      (await reconcileRuns(store.db, store.runs, lookup, { staleMs: 60_000, recheckMs: 300_000, limit: 100, now: later + 1000 })).checked,
    ).toBe(0);
    expect(
      (await reconcileRuns(store.db, store.runs, lookup, { staleMs: 60_000, recheckMs: 300_000, limit: 100, now: later + 301_000 }))
        .checked,
    ).toBe(1);

    // A real end arriving later still wins over `lost`.
    store.db
      .transaction(() =>
        store.runs.apply([{ type: 'completed', jobId: 'j-gone', task: 't', queue: 'q', at: later, attempt: 1, result: 7 }]),
      )
      .immediate();
    expect(store.runs.get('j-gone')).toMatchObject({ state: 'completed', result: '7' });
    await queue.close();
  });
});
