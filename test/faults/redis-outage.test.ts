import { describe, expect, it } from 'vitest';
import { stopAfterTest } from '../helpers/cli.js';
import { bullQueue, eventually } from '../helpers/project.js';
import { startRedis } from '../helpers/redis-server.js';
import { faultsProject, report } from './helpers.js';

describe('Redis restarts and outages', () => {
  it('restart (appendonly) while workers are busy and enqueues are arriving: nothing acknowledged is lost, one log line per state change', async () => {
    const redis = await startRedis({ appendonly: true });
    try {
      const project = faultsProject({ redisUrl: redis.url });
      const workers = ['w1', 'w2'].map((n) => {
        const p = project.spawn(['worker', '-Q', 'default', '-c', '4', '-n', n]);
        stopAfterTest(p);
        return p;
      });
      await Promise.all(workers.map((w) => w.waitFor(/ready/)));
      const acknowledged: string[] = [];
      let refused = 0;
      const producing = (async () => {
        for (let i = 0; i < 24; i++) {
          const res = await project.run(['enqueue', 'work', '--json'], { timeoutMs: 30_000 });
          if (res.code === 0) acknowledged.push(JSON.parse(res.stdout).id);
          else {
            refused += 1;
            expect(res.code).toBe(1);
            expect(res.stderr.trim().split('\n')).toHaveLength(1);
          }
        }
      })();
      await eventually(() => acknowledged.length >= 6, 30_000, 'some runs enqueued');
      await redis.restart();
      await producing;
      const queue = bullQueue(project, 'default');
      try {
        await eventually(
          async () => {
            const done = await queue.getJobs(['completed'], 0, 1000);
            const ids = new Set(done.map((j) => j.id));
            return acknowledged.every((id) => ids.has(id));
          },
          60_000,
          'every acknowledged run completed',
        );
      } finally {
        await queue.close();
      }
      for (const w of workers) {
        expect(w.output.match(/Redis connection lost/g)?.length ?? 0).toBeLessThanOrEqual(2);
        expect(w.output).toMatch(/Redis connection restored/);
      }
      report(
        `Redis restart during 24 enqueues and 2 busy workers: ${acknowledged.length} acknowledged, ${refused} refused with exit 1, 0 acknowledged lost`,
      );
    } finally {
      await redis.stop();
    }
  }, 120_000);

  it('Redis away: a worker waits with backoff and resumes when Redis is back; enqueue fails fast meanwhile', async () => {
    const redis = await startRedis({ appendonly: true });
    try {
      const project = faultsProject({ redisUrl: redis.url });
      const worker = project.spawn(['worker', '-Q', 'default']);
      stopAfterTest(worker);
      await worker.waitFor(/ready/);
      await redis.stop();
      await worker.waitFor(/Redis connection lost/, 15_000);
      const t = Date.now();
      const res = await project.run(['enqueue', 'hello', 'x']);
      const failedAfterMs = Date.now() - t;
      expect(res.code).toBe(1);
      expect(failedAfterMs).toBeLessThan(6000);
      expect(res.stderr).toMatch(/^tq: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
      await new Promise((r) => setTimeout(r, 3000)); // Redis stays away for a while
      expect(worker.child.exitCode).toBeNull();
      await redis.restart();
      const back = await project.run(['enqueue', 'hello', 'again', '--wait', '--timeout', '30s'], { timeoutMs: 45_000 });
      expect(back.code).toBe(0);
      expect(JSON.parse(back.stdout)).toBe('hello again');
      report(
        `Redis away for ~3 s: tq enqueue exited 1 after ${failedAfterMs} ms (process start included); the worker reconnected and completed the next run`,
      );
    } finally {
      await redis.stop();
    }
  }, 90_000);
});
