/**
 * Scenario 2, drain: N no-op runs queued first, then ONE worker process at concurrency c.
 * tq: a real `tq worker` (history events, the recorder writing SQLite, heartbeats, its log);
 * BullMQ: a bare `Worker` with BullMQ's default retention (it keeps every completed job).
 * Runs/s from the first to the last completion (BullMQ's finishedOn on both sides; tq's is read
 * from its history once every run's row is there).
 */
import { alternate, atLeast, MB, row, type BenchContext, type ScenarioResult } from '../lib/bench.js';
import { benchScript, runJson, type LongRunning } from '../lib/proc.js';
import { baselinePrefix, makeProject } from '../lib/project.js';
import { median } from '../lib/stats.js';
import { startBaselineWorker, startTqWorker, waitBaselineDone, waitTqDone } from './workers.js';

export async function drainScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const n = ctx.options.runs;
  const rows: ScenarioResult[] = [];
  const timeoutMs = 60_000 + n * 5;
  const lags: number[] = [];
  for (const c of ctx.options.concurrencies) {
    ctx.log(`drain: ${n} queued no-op runs, one worker process at concurrency ${c}`);
    const rounds = await alternate(ctx, `c=${c}`, {
      baseline: async () => {
        const { prefix } = baselinePrefix(ctx.root, `drain-c${c}`);
        await runJson(benchScript('baseline/producer.js'), {
          mode: 'bulk',
          fill: true,
          url: ctx.redisUrl,
          prefix,
          queue: 'bench',
          runs: n,
        });
        const worker = await startBaselineWorker(ctx, { label: `drain-c${c}`, prefix, queue: 'bench', concurrency: c, mode: 'noop' });
        try {
          const cpu = await cpuSnapshot(ctx, worker);
          const span = await waitBaselineDone(ctx.redis, prefix, 'bench', n, timeoutMs);
          const mem = worker.memory();
          return {
            rate: ((n - 1) / (span.lastDone - span.firstDone)) * 1000,
            rssMB: mem.rss / MB,
            ...(await cpuPerRun(ctx, worker, cpu, n)),
          };
        } finally {
          await worker.stop();
        }
      },
      tq: async () => {
        const project = makeProject(ctx.root, `drain-c${c}`, ctx.redisUrl);
        await runJson(benchScript('tq/producer.js'), {
          mode: 'bulk',
          fill: true,
          url: ctx.redisUrl,
          prefix: project.prefix,
          dir: project.dir,
          runs: n,
        });
        const worker = await startTqWorker(ctx, project, { label: `drain-c${c}`, queue: 'bench', concurrency: c });
        try {
          const cpu = await cpuSnapshot(ctx, worker);
          const span = await waitTqDone(project, n, timeoutMs);
          const mem = worker.memory();
          lags.push(span.historyAt - span.lastDone);
          return {
            rate: ((n - 1) / (span.lastDone - span.firstDone)) * 1000,
            rssMB: mem.rss / MB,
            ...(await cpuPerRun(ctx, worker, cpu, n)),
          };
        } finally {
          await worker.stop();
        }
      },
    });
    rows.push(row(rounds, 'rate', { name: `drain, concurrency ${c}`, unit: 'runs/s', higherIsBetter: true, goal: atLeast(1.0) }));
    if (c === Math.max(...ctx.options.concurrencies)) {
      // Where the time goes: CPU per run of the worker process (everything it does, history
      // included, until the last run's row is written) and of the Redis server.
      rows.push(row(rounds, 'workerCpuUs', { name: `drain c=${c}: worker CPU per run`, unit: 'µs', higherIsBetter: false }));
      rows.push(row(rounds, 'redisCpuUs', { name: `drain c=${c}: Redis CPU per run`, unit: 'µs', higherIsBetter: false }));
      ctx.shared.set(
        `drain-rss-tq`,
        rounds.tq.map((m) => m.rssMB!),
      );
      ctx.shared.set(
        `drain-rss-baseline`,
        rounds.baseline.map((m) => m.rssMB!),
      );
      ctx.shared.set('drain-rss-concurrency', [c]);
    }
  }
  ctx.notes.push(
    `drain: tq's history (SQLite) held every run's final row a median ${Math.round(median(lags))} ms after the last completion (polled every 50 ms).`,
  );
  return rows;
}

/** Redis server CPU time so far (user + system), ms, from `INFO cpu`. */
async function redisCpuMs(ctx: BenchContext): Promise<number> {
  const info = await ctx.redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

async function cpuSnapshot(ctx: BenchContext, worker: LongRunning): Promise<{ worker: number; redis: number }> {
  return { worker: worker.cpuMs(), redis: await redisCpuMs(ctx) };
}

async function cpuPerRun(ctx: BenchContext, worker: LongRunning, since: { worker: number; redis: number }, n: number) {
  const now = await cpuSnapshot(ctx, worker);
  return { workerCpuUs: ((now.worker - since.worker) * 1000) / n, redisCpuUs: ((now.redis - since.redis) * 1000) / n };
}
