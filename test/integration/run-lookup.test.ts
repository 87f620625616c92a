import { Queue, Worker, UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupRuns } from '../../src/queue/run-lookup.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

describe('lookupRuns: what Redis knows of runs, from BullMQ job hashes', () => {
  let server: TestRedis;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('tells completed (even after a failed attempt), failed, cancelled, pending and missing apart', async () => {
    const connection = { host: '127.0.0.1', port: server.port };
    const queue = new Queue('q', { connection, prefix: 'lk' });
    const seen = new Map<string, number>();
    const worker = new Worker(
      'q',
      async (job) => {
        const n = (seen.get(job.id!) ?? 0) + 1;
        seen.set(job.id!, n);
        if (job.name === 'flaky' && n === 1) throw new Error('first try fails');
        if (job.name === 'bad') throw new UnrecoverableError('broken input');
        if (job.name === 'cancel') throw new UnrecoverableError('Cancelled: cancelled by user');
        return { ok: job.name };
      },
      { connection, prefix: 'lk', autorun: false },
    );
    const ends = new Promise<void>((resolve) => {
      let n = 0;
      const done = () => ++n === 4 && resolve();
      worker.on('completed', done);
      worker.on('failed', (job) => {
        if (job && job.finishedOn) done();
      });
    });
    await queue.add('good', {}, { jobId: 'good' });
    await queue.add('flaky', {}, { jobId: 'flaky', attempts: 2 });
    await queue.add('bad', {}, { jobId: 'bad' });
    await queue.add('cancel', {}, { jobId: 'cancel' });
    void worker.run();
    await ends;
    await worker.close();
    await queue.add('later', {}, { jobId: 'later', delay: 60_000 });
    try {
      const found = await lookupRuns(
        redis,
        'lk',
        ['good', 'flaky', 'bad', 'cancel', 'later', 'gone'].map((id) => ({ id, queue: 'q' })),
      );
      expect(found.get('good')).toMatchObject({ state: 'completed', attempt: 1, result: { ok: 'good' } });
      expect(found.get('flaky')).toMatchObject({ state: 'completed', attempt: 2, result: { ok: 'flaky' } });
      expect(found.get('bad')).toMatchObject({ state: 'failed', error: 'broken input' });
      expect(found.get('cancel')).toMatchObject({ state: 'cancelled' });
      expect(found.get('later')).toEqual({ state: 'pending' });
      expect(found.get('gone')).toEqual({ state: 'missing' });
      const good = found.get('good');
      expect(good && 'at' in good && good.at).toBeGreaterThan(0);
    } finally {
      await queue.close();
    }
  });

  it('asks nothing for no runs', async () => {
    expect((await lookupRuns(redis, 'lk', [])).size).toBe(0);
  });
});
