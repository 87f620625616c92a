import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ROOT, makeProject, stopAfterTest, type TestProject } from '../helpers/cli.js';
import { bullQueue, eventually } from '../helpers/project.js';
import { startRedis } from '../helpers/redis-server.js';
import { loadConfig } from '../../src/config/index.js';
import { Producer } from '../../src/queue/index.js';
import { MemoryWatch } from '../../src/queue/memory-watch.js';
import { readMemory } from '../../src/queue/memory.js';
import { RunEventWriter } from '../../src/queue/run-stream.js';
import { report } from './helpers.js';

/** A project on its own Redis; `redisSection` goes into the config as is (`redis: { allowEviction: true },`). */
function memoryProject(redisUrl: string, redisSection = ''): TestProject {
  const source = fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'memory-config.ts.txt'), 'utf8');
  return makeProject(source.replace('__REDIS__', redisSection), { redisUrl });
}

async function client(url: string): Promise<Redis> {
  const redis = new Redis(url);
  onTestFinished(() => {
    redis.disconnect();
  });
  return redis;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1]);
}

const OOM_LINE =
  /^tq: Redis is out of memory \(maxmemory [\d.]+ [KM]iB, used [\d.]+ [KM]iB, policy noeviction\): writes are refused — free memory \(tq control purge --state completed\) or raise maxmemory\n$/;

describe('Redis at maxmemory with noeviction', () => {
  it('inspect and purge keep working, writes fail with one line naming maxmemory, and purge frees memory', async () => {
    const server = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] });
    onTestFinished(() => server.stop());
    const redis = await client(server.url);
    const p = memoryProject(server.url);

    // 300 finished runs of 8 KB each: what a busy day leaves in Redis.
    const before = await usedMemory(redis);
    const producer = await Producer.connect(await loadConfig(p.file('tasks.config.ts')), { redisUrl: p.redisUrl, prefix: p.prefix });
    try {
      const payload = { blob: 'y'.repeat(8 * 1024) };
      await producer.enqueueMany(Array.from({ length: 300 }, () => ({ task: 'echo', payload })));
    } finally {
      await producer.close();
    }
    const worker = stopAfterTest(p.spawn(['worker']));
    const queue = bullQueue(p, 'default');
    onTestFinished(() => queue.close());
    await eventually(async () => (await queue.getJobCounts('completed')).completed === 300, 30_000, '300 completed');
    await worker.stop();
    const filled = await usedMemory(redis);
    // Full: the limit sits a quarter of the runs' memory below what is used.
    await redis.config('SET', 'maxmemory', String(Math.round(filled - (filled - before) / 4)));

    const enqueue = await p.run(['enqueue', 'echo']);
    expect(enqueue.code).toBe(1);
    expect(enqueue.stderr).toMatch(OOM_LINE);
    const start = await p.run(['worker']);
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(OOM_LINE);

    for (const args of [
      ['inspect'],
      ['inspect', 'queues', '--json'],
      ['inspect', 'tasks', '--state', 'completed'],
      ['inspect', 'workers'],
    ]) {
      const r = await p.run(args);
      expect(r.stderr, args.join(' ')).not.toMatch(/internal error|OOM/);
      expect(r.code, args.join(' ')).toBe(0);
    }
    const { queues } = JSON.parse((await p.run(['inspect', 'queues', '--json'])).stdout) as {
      queues: { name: string; completed: number }[];
    };
    expect(queues.find((q) => q.name === 'default')?.completed).toBe(300);

    const purge = await p.run(['control', 'purge', 'default', '--state', 'completed', '--yes']);
    expect(purge.stderr).not.toMatch(/internal error|OOM/);
    expect(purge.code).toBe(0);
    expect(purge.stdout).toMatch(/removed 300 completed run\(s\) from default/);
    const after = await usedMemory(redis);
    expect(after).toBeLessThan(filled - (filled - before) / 4);

    // Room again: writes work.
    const again = await p.run(['enqueue', 'echo', '--json']);
    expect(again.code, again.stderr).toBe(0);
    report(
      `Redis at maxmemory (noeviction): enqueue and worker start exit 1 with one line naming maxmemory; inspect and purge worked; purge freed ${Math.round((filled - after) / 1024)} KiB of ${Math.round((filled - before) / 1024)} KiB the 300 runs used, then enqueue worked`,
    );
  }, 90_000);

  it('bounds the history events a writer keeps while Redis refuses them, and says how many it dropped', async () => {
    const server = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] });
    onTestFinished(() => server.stop());
    const redis = await client(server.url);
    await redis.config('SET', 'maxmemory', '1'); // every write refused
    const warnings: string[] = [];
    const writer = new RunEventWriter(redis, 'bounded', 100_000, (err) => warnings.push(String((err as Error).message)), 0, {
      maxPendingEvents: 1000,
    });
    for (let i = 0; i < 3000; i++) {
      writer.append({ type: 'enqueued', jobId: `j${i}`, task: 't', queue: 'q', attempt: 0, at: Date.now() });
      if (i % 500 === 0) await writer.flush();
    }
    await writer.flush();
    expect(writer.pending).toBeLessThanOrEqual(1000);
    expect(writer.droppedEvents).toBe(3000 - writer.pending);
    expect(
      warnings.some((w) =>
        /^dropped the oldest \d+ run event\(s\) so far: more than 1000 events or 64 MiB were waiting while Redis refused writes \(OOM/.test(
          w,
        ),
      ),
    ).toBe(true);
    const lost = await writer.close();
    expect(lost).toBe(3000);
    report(
      `history writer while Redis refused writes: 3000 events appended, at most 1000 kept (the bound), ${writer.droppedEvents} dropped with a warning; close reports all 3000 as missing from history`,
    );
  }, 30_000);

  it('a running worker is told once when Redis starts and stops refusing writes', async () => {
    const server = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] });
    onTestFinished(() => server.stop());
    const redis = await client(server.url);
    const lines: string[] = [];
    const watch = new MemoryWatch(
      redis,
      { allowEviction: false, warn: (m) => lines.push(`warn ${m}`), info: (m) => lines.push(`info ${m}`) },
      await readMemory(redis),
    );
    onTestFinished(() => watch.close());
    await watch.poll();
    expect(lines).toEqual([]);
    await redis.config('SET', 'maxmemory', '1');
    await watch.poll();
    await watch.poll();
    await redis.config('SET', 'maxmemory', '0');
    await watch.poll();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^warn Redis is out of memory \(maxmemory 1 B, used .*policy noeviction\): writes are refused.*keeps running/);
    expect(lines[1]).toMatch(/^info Redis accepts writes again/);
  }, 30_000);
});

describe('Redis with an evicting maxmemory-policy', () => {
  it('worker and enqueue refuse it with one line (exit 2) unless the config allows it', async () => {
    const server = await startRedis({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] });
    onTestFinished(() => server.stop());
    const refused =
      /^tq: Redis maxmemory-policy is "allkeys-lru" \(maxmemory 64\.0 MiB\): Redis may evict queued runs, their locks and worker heartbeats — set maxmemory-policy noeviction, or allow it in the config with redis: \{ allowEviction: true \}\n$/;
    const p = memoryProject(server.url);
    const worker = await p.run(['worker']);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toMatch(refused);
    const enqueue = await p.run(['enqueue', 'echo']);
    expect(enqueue.code).toBe(2);
    expect(enqueue.stderr).toMatch(refused);
    // Reading is harmless: inspect still works.
    expect((await p.run(['inspect', 'queues'])).code).toBe(0);

    const allowed = memoryProject(server.url, 'redis: { allowEviction: true },');
    const w = stopAfterTest(allowed.spawn(['worker']));
    await w.waitFor(/ready/);
    expect(w.output).toMatch(/maxmemory-policy is "allkeys-lru": Redis may evict queued runs/);
    const r = await allowed.run(['enqueue', 'echo', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    report(
      'evicting maxmemory-policy (allkeys-lru): tq worker and tq enqueue exit 2 with one line; with redis: { allowEviction: true } they run (the worker warns)',
    );
  }, 60_000);

  it('a running worker says when Redis evicted keys', async () => {
    const server = await startRedis({ args: ['--maxmemory', '4mb', '--maxmemory-policy', 'allkeys-lru'] });
    onTestFinished(() => server.stop());
    const redis = await client(server.url);
    const lines: string[] = [];
    const watch = new MemoryWatch(
      redis,
      { allowEviction: true, warn: (m) => lines.push(m), info: (m) => lines.push(m) },
      await readMemory(redis),
    );
    onTestFinished(() => watch.close());
    const value = 'z'.repeat(10_000);
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1000; i++) pipeline.set(`filler:${i}`, value);
    await pipeline.exec();
    await watch.poll();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^Redis evicted \d+ key\(s\) since the last look \(maxmemory 4\.0 MiB, .*policy allkeys-lru\): queued runs, their locks or worker heartbeats may be gone/,
    );
    await watch.poll();
    expect(lines).toHaveLength(1);
    report(
      `evictions while a worker runs: ${/evicted (\d+)/.exec(lines[0]!)?.[1]} keys evicted, said in one warning at the next look (once a minute: one pipelined INFO memory + INFO stats)`,
    );
  }, 30_000);
});
