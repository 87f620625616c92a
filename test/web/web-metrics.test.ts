import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/index.js';
import { defineConfig, defineTask } from '../../src/index.js';
import { Producer } from '../../src/queue/index.js';
import { startWebServer } from '../../src/web/server.js';
import { stopAfterTest } from '../helpers/cli.js';
import { appProject, eventually } from '../helpers/project.js';
import { startRedis } from '../helpers/redis-server.js';

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[];
}

const quiet = { info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };

function value(families: Family[], name: string, labels: Record<string, string>): number | undefined {
  const family = families.find((f) => f.name === name);
  const m = family?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m?.value === undefined ? undefined : Number(m.value);
}

describe('tq web /metrics', () => {
  it('after a known workload (3 completed, 2 failed, 1 delayed, 1 waiting) says so in Prometheus text, with no run ids as labels', async () => {
    const project = appProject();
    const web = stopAfterTest(project.spawn(['web', '--port', '0'], { env: { TQ_WEB_TOKENS: '' } }));
    await web.waitFor(/listening on (http:\/\/\S+)/);
    const url = /listening on (http:\/\/\S+)/.exec(web.output)![1]!;
    stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'metrics-worker']));
    const ids: string[] = [];
    const enqueue = async (args: string[]) => {
      const r = await project.run(['enqueue', ...args, '--json']);
      ids.push(JSON.parse(r.stdout).id);
    };
    for (const name of ['a', 'b', 'c']) await enqueue(['hello', name, '--wait']);
    for (let i = 0; i < 2; i++) await enqueue(['boom', '--wait']);
    await enqueue(['hello', 'later', '--delay', '1h']);
    await enqueue(['slow', '10']);

    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    // The server's stream reader sees the ends a moment after the CLI did.
    let last = '';
    const text = await eventually(async () => {
      const t = (last = await scrape());
      return /tq_runs_finished_total\{queue="default",task="boom",state="failed"\} 2/.test(t) &&
        /tq_run_wait_seconds_count\{queue="default",task="hello"\} 3/.test(t)
        ? t
        : undefined;
    }, 30_000).catch((err: unknown) => {
      throw new Error(
        `${String(err)}\n${last
          .split('\n')
          .filter((l) => /^tq_(runs|run_wait_seconds_count|run_retries)/.test(l))
          .join('\n')}`,
      );
    });
    const families = parsePrometheus(text) as Family[];
    const finished = (task: string, state: string) => value(families, 'tq_runs_finished_total', { queue: 'default', task, state });
    expect(finished('hello', 'completed')).toBe(3);
    expect(finished('boom', 'failed')).toBe(2);
    expect(value(families, 'tq_run_retries_total', { queue: 'default', task: 'boom' })).toBe(2);
    expect(value(families, 'tq_runs', { queue: 'default', state: 'completed' })).toBe(3);
    expect(value(families, 'tq_runs', { queue: 'default', state: 'failed' })).toBe(2);
    expect(value(families, 'tq_runs', { queue: 'default', state: 'delayed' })).toBe(1);
    expect(value(families, 'tq_runs', { queue: 'slow', state: 'waiting' })).toBe(1);
    expect(value(families, 'tq_runs', { queue: 'default', state: 'waiting' })).toBe(0);
    expect(value(families, 'tq_queue_oldest_runnable_age_seconds', { queue: 'slow' })).toBeGreaterThan(0);
    expect(value(families, 'tq_workers_online', { queue: 'default' })).toBe(1);
    expect(value(families, 'tq_workers_online', { queue: 'slow' })).toBe(0);
    expect(value(families, 'tq_worker_up', { worker: 'metrics-worker' })).toBe(1);
    expect(value(families, 'tq_build_info', {})).toBe(1);
    expect(value(families, 'tq_recorder_lag_events', {})).toBeGreaterThanOrEqual(0);
    expect(value(families, 'tq_recorder_lag_seconds', {})).toBeGreaterThanOrEqual(0);
    // Histograms: attempts ran (3 hello, 2 x 2 boom), runs started after waiting.
    expect(text).toMatch(/tq_run_duration_seconds_count\{queue="default",task="hello"\} 3\n/);
    expect(text).toMatch(/tq_run_duration_seconds_count\{queue="default",task="boom"\} 4\n/);
    expect(text).toMatch(/tq_run_duration_seconds_bucket\{le="0\.005",queue="default",task="hello"\}/);
    expect(text).toMatch(/tq_run_duration_seconds_bucket\{le="1800",queue="default",task="hello"\}/);
    // Naming: tq_ prefix, _total only on counters, base units.
    for (const f of families) {
      expect(f.name).toMatch(/^tq_/);
      expect(f.name.endsWith('_total')).toBe(f.type === 'COUNTER');
      expect(f.name).not.toMatch(/_(ms|milliseconds|minutes|kb|mb)(_|$)/);
    }
    for (const id of ids) expect(text).not.toContain(id);
    expect(text).not.toContain('boom: the task failed on purpose');
  });

  it('costs the same Redis commands per scrape with 1 and with 100,000 waiting runs (never SCAN or KEYS)', async () => {
    const redis = await startRedis();
    const probe = new Redis(redis.url);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-web-metrics-'));
    const prefix = `m${randomBytes(3).toString('hex')}`;
    const config = configFromObject(
      defineConfig({
        tasks: {
          hello: defineTask({ args: ['name'], run: async ({ name }: { name: string }) => `hello ${name}` }),
          other: defineTask({ queue: 'other', run: async () => 'x' }),
        },
      }),
      dir,
    );
    const settings = { redisUrl: redis.url, redisExplicit: true, prefix, dbFile: path.join(dir, 'tq.db'), debug: false };
    const server = await startWebServer(config, settings, {
      port: 0,
      host: '127.0.0.1',
      readOnly: true,
      allowActions: false,
      env: {},
      logger: quiet,
    });
    const stats = async () => {
      const out: Record<string, number> = {};
      for (const m of (await probe.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
      return out;
    };
    /** Commands of one scrape: the least of several (the server's background reads add noise now and then). */
    const perScrape = async () => {
      const counts: { total: number; byCommand: Record<string, number> }[] = [];
      for (let i = 0; i < 5; i++) {
        const before = await stats();
        expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
        const after = await stats();
        const byCommand: Record<string, number> = {};
        for (const [k, v] of Object.entries(after)) {
          // A script's first call is an EVAL (it loads it), later ones EVALSHA: one script call either way.
          const name = k === 'eval' ? 'evalsha' : k;
          if (k !== 'info' && v - (before[k] ?? 0) > 0) byCommand[name] = (byCommand[name] ?? 0) + v - (before[k] ?? 0);
        }
        counts.push({ total: Object.values(byCommand).reduce((a, b) => a + b, 0), byCommand });
      }
      return counts.sort((a, b) => a.total - b.total)[0]!;
    };
    const enqueue = async (n: number) => {
      const producer = await Producer.connect(config, settings);
      try {
        for (let i = 0; i < n; i += 10_000)
          await producer.enqueueMany(
            Array.from({ length: Math.min(10_000, n - i) }, (_, k) => ({ task: 'hello', payload: { name: `n${i + k}` } })),
          );
      } finally {
        await producer.close();
      }
    };
    try {
      await enqueue(1);
      // A delayed run whose time has come but no worker moved it: it could start now.
      const producer = await Producer.connect(config, settings);
      await producer.enqueue('other', {}, { delay: 1 });
      await producer.close();
      await new Promise((r) => setTimeout(r, 1100));
      const overdue = await (await fetch(`${server.url}/metrics`)).text();
      expect(overdue).toMatch(/tq_runs\{queue="other",state="delayed"\} 1\n/);
      expect(Number(/tq_queue_oldest_runnable_age_seconds\{queue="other"\} ([\d.]+)/.exec(overdue)?.[1])).toBeGreaterThanOrEqual(1);
      const one = await perScrape();
      await enqueue(99_999);
      expect(await probe.llen(`${prefix}:default:wait`)).toBe(100_000);
      const many = await perScrape();
      console.log(`metrics scrape: ${one.total} Redis commands with 1 waiting run, ${many.total} with 100,000`, many.byCommand);
      expect(many.total).toBe(one.total);
      expect(many.byCommand).toEqual(one.byCommand);
      expect(Object.keys(many.byCommand)).not.toContain('scan');
      expect(Object.keys(many.byCommand)).not.toContain('keys');
    } finally {
      await server.close();
      probe.disconnect();
      await redis.stop();
    }
  }, 180_000);

  it("tq worker --metrics-port serves that worker's process metrics: event-loop lag, memory, active runs", async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'slow', '-n', 'lagger', '--metrics-port', '127.0.0.1:0']));
    await worker.waitFor(/metrics\s+(http:\/\/\S+)\/metrics/);
    const url = /metrics\s+(http:\/\/\S+)\/metrics/.exec(worker.output)![1]!;
    expect((await project.run(['enqueue', 'slow', '3000'])).code).toBe(0);
    const text = await eventually(async () => {
      const t = await (await fetch(`${url}/metrics`)).text();
      return /tq_worker_active_runs\{worker="lagger"\} 1\n/.test(t) ? t : undefined;
    });
    const families = parsePrometheus(text) as Family[];
    const names = families.map((f) => f.name);
    expect(names).toContain('tq_worker_event_loop_lag_seconds');
    expect(names).toContain('tq_worker_cpu_seconds_total');
    expect(value(families, 'tq_worker_event_loop_lag_seconds', { worker: 'lagger', stat: 'p99' })).toBeGreaterThanOrEqual(0);
    expect(value(families, 'tq_worker_memory_bytes', { worker: 'lagger', kind: 'rss' })).toBeGreaterThan(1_000_000);
    for (const f of families) expect(f.name.endsWith('_total')).toBe(f.type === 'COUNTER');
    // A port that cannot be had is one line and exit 1, not a worker without its metrics.
    const taken = new URL(url).port;
    const second = await project.run(['worker', '-Q', 'slow', '-n', 'second', '--metrics-port', taken]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/cannot serve worker metrics on 127\.0\.0\.1:\d+/);
    const bad = await project.run(['worker', '--metrics-port', 'nope']);
    expect(bad.code).toBe(2);
  });
});
