import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../src/core/async.js';
import { connect, liveWorkers, type Redis } from '../../src/queue/index.js';
import { HeartbeatPublisher } from '../../src/queue/heartbeat.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

describe('heartbeat failures are logged once per change', () => {
  let server: TestRedis;
  let beats: Redis;
  let admin: Redis;

  // A server of its own: the test takes write permissions away from its default user.
  beforeAll(async () => {
    server = await startRedis();
    beats = await connect(server.url, { role: 'worker', name: 'heartbeat-test' });
    admin = await connect(server.url, { role: 'producer', name: 'heartbeat-admin' });
  });
  afterAll(async () => {
    beats.disconnect();
    admin.disconnect();
    await server.stop();
  });

  it('failing says "heartbeat not written (reason)" once; recovering says "heartbeat written again" once', async () => {
    const prefix = `h${randomBytes(3).toString('hex')}`;
    const lines: string[] = [];
    const logger = { info: (l: string) => lines.push(`info: ${l}`), warn: (l: string) => lines.push(`warn: ${l}`) };
    const snapshot = () => ({
      name: 'w1',
      queues: ['default'],
      concurrency: 1,
      active: [],
      processed: 0,
      failed: 0,
      zombies: 0,
      startedAt: 0,
      lastFetchAt: 0,
      version: 'test',
    });
    const publisher = new HeartbeatPublisher(beats, prefix, snapshot, logger, 20);
    let attempts = 0;
    const counting = publisher.beat.bind(publisher);
    publisher.beat = () => {
      attempts += 1;
      return counting();
    };
    publisher.start();
    try {
      expect(
        await pollUntil(async () => ((await liveWorkers(admin, prefix)).length === 1 ? true : undefined), {
          intervalMs: 10,
          timeoutMs: 5000,
        }),
      ).toBe(true);
      expect(lines).toEqual([]);

      await admin.call('ACL', 'SETUSER', 'default', '-set');
      await pollUntil(() => (lines.length > 0 ? true : undefined), { intervalMs: 10, timeoutMs: 5000 });
      // Several more beats fail without another line.
      const failedSoFar = attempts;
      await pollUntil(() => (attempts >= failedSoFar + 3 ? true : undefined), { intervalMs: 10, timeoutMs: 5000 });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^warn: heartbeat not written \(.*NOPERM.*\); this worker is missing from `tq inspect workers` until it is$/,
      );

      await admin.call('ACL', 'SETUSER', 'default', '+set');
      await pollUntil(() => (lines.length > 1 ? true : undefined), { intervalMs: 10, timeoutMs: 5000 });
      const recoveredAt = attempts;
      await pollUntil(() => (attempts >= recoveredAt + 3 ? true : undefined), { intervalMs: 10, timeoutMs: 5000 });
      expect(lines.slice(1)).toEqual(['info: heartbeat written again']);
      expect((await liveWorkers(admin, prefix)).map((w) => w.name)).toEqual(['w1']);
    } finally {
      await publisher.stop('w1');
    }
  });
});
