import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/index.js';
import { defineConfig, defineTask } from '../../src/index.js';
import { createMonitorSource, MonitorController } from '../../src/monitor/index.js';
import { Admin, Producer, RunEventReader, connect } from '../../src/queue/index.js';
import { openStore, Recorder } from '../../src/store/index.js';
import { ROOT, TQ_BIN, makeProject } from '../helpers/cli.js';
import { appConfig, eventually } from '../helpers/project.js';
import { startRedis } from '../helpers/redis-server.js';

/**
 * The load check of `tq monitor` (not a timed test; run it with TQ_MONITOR_LOAD=1):
 * with 100,000 waiting runs the monitor still refreshes every second, and the Redis commands it
 * issues per refresh are the same as with an empty queue. Measured with INFO commandstats deltas
 * on a private redis-server where nothing else runs; the figures go to the console and to
 * .test-results/monitor-load.json (and into the README).
 */
const RUNS = Number(process.env.TQ_MONITOR_LOAD_RUNS ?? 100_000);
const REFRESHES = 15;

type Stats = Record<string, number>;

async function commandStats(probe: Redis): Promise<Stats> {
  const text = await probe.info('commandstats');
  const out: Stats = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Calls per command between two INFO snapshots, without the probe's own INFO calls. */
function delta(before: Stats, after: Stats): Stats {
  const out: Stats = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0 && k !== 'info') out[k] = d;
  }
  return out;
}

const perRefresh = (d: Stats, n: number): Stats =>
  Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
const total = (s: Stats) => Object.values(s).reduce((a, b) => a + b, 0);

describe.skipIf(process.env.TQ_MONITOR_LOAD !== '1')('tq monitor under load (TQ_MONITOR_LOAD=1)', () => {
  it(`keeps refreshing every second and issues the same commands per refresh with ${RUNS} waiting runs as with none`, async () => {
    const redis = await startRedis();
    const probe = new Redis(redis.url);
    const prefix = `load${randomBytes(3).toString('hex')}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-monitor-load-'));
    const config = configFromObject(
      defineConfig({
        tasks: {
          hello: defineTask({ args: ['name'], run: async ({ name }: { name: string }) => `hello ${name}` }),
          resize: defineTask({ queue: 'images', run: async () => 'x' }),
          slow: defineTask({ queue: 'slow', run: async () => 'x' }),
        },
      }),
      dir,
    );
    const settings = { redisUrl: redis.url, prefix };
    const report: Record<string, unknown> = {
      runs: RUNS,
      refreshes: REFRESHES,
      redis: (await probe.info('server')).match(/redis_version:(\S+)/)?.[1],
    };

    /** A monitor as `tq monitor` runs it (its source, its recorder), measured over REFRESHES refreshes. */
    async function inProcess(label: string) {
      const store = openStore(path.join(dir, `${label}.db`));
      const admin = await Admin.connect(config, settings);
      const recorderRedis = await connect(redis.url, { role: 'worker', name: 'tq-recorder' });
      const recorder = new Recorder(store.db, new RunEventReader(recorderRedis, prefix), {});
      const source = createMonitorSource({ config, settings, store, admin, catchUp: async () => recorder.catchUp() });
      const refreshes: { at: number; tookMs: number; events: number }[] = [];
      const c = new MonitorController(source, {
        redisUrl: redis.url,
        prefix,
        intervalMs: 1000,
        columns: 120,
        rows: 40,
        onRefresh: (r) => refreshes.push(r),
      });
      await c.start({ loop: false });
      recorder.start();
      // Let the recorder finish catching up (its work grows with events, not with queued runs).
      const streamEnd = async () => (await probe.xinfo('STREAM', `${prefix}::tq:run-events`).catch(() => [])) as unknown[];
      await eventually(
        async () => {
          const info = await streamEnd();
          const i = info.indexOf('last-generated-id');
          return i < 0 || recorder.lastId === info[i + 1];
        },
        120_000,
        'the recorder to catch up',
      );
      await c.start();
      await eventually(() => refreshes.length >= 3, 10_000);
      const from = refreshes.length;
      const before = await commandStats(probe);
      await eventually(() => refreshes.length >= from + REFRESHES, REFRESHES * 2000 + 10_000);
      const after = await commandStats(probe);
      const window = refreshes.slice(from, from + REFRESHES);
      const gaps = window.slice(1).map((r, i) => r.at - window[i]!.at);
      const state = c.getState();
      await c.close();
      await recorder.close();
      recorderRedis.disconnect();
      await source.close();
      store.close();
      const d = delta(before, after);
      return {
        waiting: state.queues.reduce((n, q) => n + q.waiting, 0),
        calls: d,
        perRefresh: perRefresh(d, REFRESHES),
        commandsPerRefresh: Math.round((total(d) / REFRESHES) * 100) / 100,
        refreshMs: {
          max: Math.max(...window.map((r) => r.tookMs)),
          mean: Math.round(window.reduce((n, r) => n + r.tookMs, 0) / window.length),
        },
        intervalMs: { min: Math.min(...gaps), max: Math.max(...gaps) },
      };
    }

    /** The real binary in a terminal for ~10 s: commands per second, and the header's clock ticking. */
    async function binary() {
      const project = makeProject(appConfig(), { redisUrl: redis.url, prefix });
      await project.run(['inspect', 'queues'], { timeoutMs: 120_000 }); // catch its history file up first
      const socket = `tq-load-${randomBytes(3).toString('hex')}`;
      const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
      const env = Object.entries(project.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      tmux(
        'new-session',
        '-d',
        '-s',
        'm',
        '-x',
        '120',
        '-y',
        '40',
        '-c',
        project.dir,
        `env -u CI ${env} ${process.execPath} ${TQ_BIN} monitor; sleep 30`,
      );
      try {
        await eventually(() => /Runs .*live/.test(tmux('capture-pane', '-p', '-t', 'm')), 60_000, 'the monitor to start');
        await new Promise((r) => setTimeout(r, 3000));
        const seconds = new Set<string>();
        const before = await commandStats(probe);
        const started = Date.now();
        while (Date.now() - started < 10_000) {
          const clock = tmux('capture-pane', '-p', '-t', 'm')
            .split('\n')[0]!
            .match(/(\d\d:\d\d:\d\d)\s*$/)?.[1];
          if (clock) seconds.add(clock);
          await new Promise((r) => setTimeout(r, 200));
        }
        const after = await commandStats(probe);
        const elapsed = (Date.now() - started) / 1000;
        const d = delta(before, after);
        return {
          commandsPerSecond: Math.round((total(d) / elapsed) * 10) / 10,
          distinctSecondsOnScreen: seconds.size,
          overSeconds: Math.round(elapsed),
        };
      } finally {
        tmux('kill-server');
      }
    }

    const enqueue = async (n: number) => {
      const producer = await Producer.connect(config, settings);
      const started = Date.now();
      for (let i = 0; i < n; i += 10_000) {
        await producer.enqueueMany(
          Array.from({ length: Math.min(10_000, n - i) }, (_, k) => ({ task: 'hello', payload: { name: `n${i + k}` } })),
        );
      }
      await producer.close();
      return Math.round((Date.now() - started) / 100) / 10;
    };
    try {
      report.empty = await inProcess('empty');
      report.emptyBinary = await binary();
      // One waiting run: the age of the oldest waiting run is read from then on (a fixed cost).
      await enqueue(1);
      report.one = await inProcess('one');
      report.enqueueSeconds = await enqueue(RUNS - 1);
      report.loaded = await inProcess('loaded');
      report.loadedBinary = await binary();
    } finally {
      probe.disconnect();
      await redis.stop();
    }

    console.log(JSON.stringify(report, null, 2));
    fs.mkdirSync(path.join(ROOT, '.test-results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, '.test-results', 'monitor-load.json'), `${JSON.stringify(report, null, 2)}\n`);

    type Measured = Awaited<ReturnType<typeof inProcess>>;
    const [empty, one, loaded] = [report.empty, report.one, report.loaded] as Measured[];
    expect([empty!.waiting, one!.waiting, loaded!.waiting]).toEqual([0, 1, RUNS]);
    // The same commands, the same number of times, with one waiting run and with all of them
    // (the recorder's 30-second stream check may fall into one window and not the other).
    const keys = (a: Stats, b: Stats) => new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys(one!.calls, loaded!.calls)) {
      expect(Math.abs((loaded!.calls[k] ?? 0) - (one!.calls[k] ?? 0)), k).toBeLessThanOrEqual(1);
    }
    // An empty queue differs only by the read of its oldest waiting run (none to read).
    for (const k of keys(empty!.calls, one!.calls)) {
      const diff = Math.abs((one!.calls[k] ?? 0) - (empty!.calls[k] ?? 0));
      if (k === 'lrange' || k === 'hgetall') expect(diff, k).toBeLessThanOrEqual(2 * REFRESHES);
      else expect(diff, k).toBeLessThanOrEqual(1);
    }
    expect(loaded!.intervalMs.max).toBeLessThan(1500);
    expect((report.loadedBinary as { distinctSecondsOnScreen: number }).distinctSecondsOnScreen).toBeGreaterThanOrEqual(9);
  }, 900_000);
});
