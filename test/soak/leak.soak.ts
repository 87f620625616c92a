// `npm run test:soak`: 100,000 no-op runs through one worker; its RSS after warm-up must grow by
// less than 30 MB. A benchmark-style check (minutes, not part of `npm test`); prints the figures.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { makeProject } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { loadConfig } from '../../src/config/index.js';
import { Producer } from '../../src/queue/index.js';
import path from 'node:path';
import { Redis } from 'ioredis';

const TOTAL = Number(process.env.SOAK_RUNS ?? 100_000);
const rssMb = (pid: number) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
};

describe('no leaks', () => {
  let redis: TestRedis;
  afterAll(async () => redis?.stop());

  it(`${TOTAL} no-op runs through one worker: RSS growth after warm-up < 30 MB`, async () => {
    redis = await startRedis();
    const project = makeProject(
      `import { defineConfig, defineTask } from 'tq';\nexport default defineConfig({ tasks: { noop: defineTask({ run: async () => null }) } });\n`,
      { redisUrl: redis.url },
    );
    const worker = project.spawn(['worker', '-c', '8']);
    await worker.waitFor(/ready/);
    const producer = await Producer.connect(await loadConfig(path.join(project.dir, 'tasks.config.ts')), {
      redisUrl: redis.url,
      prefix: project.prefix,
    });
    // The producer keeps its connection to itself: counts are read on one of the test's own.
    const raw = new Redis(redis.url);
    const queueKey = `${project.prefix}:default`;
    const completed = async () =>
      Number(await raw.zcard(`${queueKey}:completed`)) + Number((await raw.get(`${project.prefix}:soak:done`)) ?? 0);
    const samples: { runs: number; rssMb: number }[] = [];
    const started = Date.now();
    const batch = 5000;
    let warmRss = 0;
    for (let sent = 0; sent < TOTAL; sent += batch) {
      await producer.enqueueMany(Array.from({ length: Math.min(batch, TOTAL - sent) }, () => ({ task: 'noop', payload: {} })));
      // Keep the backlog small so memory reflects steady work, not a queue held in memory.
      for (;;) {
        const waiting = await raw.llen(`${queueKey}:wait`);
        if (waiting < batch) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const rss = rssMb(worker.child.pid!);
      samples.push({ runs: sent + batch, rssMb: Math.round(rss) });
      if (sent + batch === 10_000) warmRss = rss;
    }
    for (;;) {
      const waiting = (await raw.llen(`${queueKey}:wait`)) + (await raw.llen(`${queueKey}:active`));
      if (waiting === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const endRss = rssMb(worker.child.pid!);
    const seconds = (Date.now() - started) / 1000;
    void completed;
    await producer.close();
    raw.disconnect();
    await worker.stop();
    // RSS saw-tooths with garbage collection: compare medians of windows, not single samples.
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const early = median(samples.filter((x) => x.runs > TOTAL * 0.1 && x.runs <= TOTAL * 0.3).map((x) => x.rssMb));
    const late = median(samples.slice(-5).map((x) => x.rssMb));
    const growth = late - early;
    console.log(
      `[soak] ${TOTAL} runs in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds)}/s); worker RSS median early (10-30%): ${early} MB, late (last 5 samples): ${late} MB, growth ${growth} MB; after 10k ${warmRss.toFixed(0)} MB, idle at end ${endRss.toFixed(0)} MB`,
    );
    console.log(`[soak] samples (runs: MB): ${samples.map((s) => `${s.runs}: ${s.rssMb}`).join(', ')}`);
    expect(growth).toBeLessThan(30);
  }, 900_000);
});
