/**
 * Scenario 3, round trip: sequential enqueue -> result of a no-op, with a worker process
 * (concurrency 1) running on each side. tq: client `enqueue` + `run.wait()`; BullMQ:
 * `queue.add` + `job.waitUntilFinished(queueEvents)`. p50/p95/p99 of each round, then the
 * median over rounds.
 */
import { alternate, atMost, row, type BenchContext, type ScenarioResult } from '../lib/bench.js';
import { benchScript, runJson, type LongRunning } from '../lib/proc.js';
import { baselinePrefix, makeProject } from '../lib/project.js';
import { percentile } from '../lib/stats.js';
import { startBaselineWorker, startTqWorker } from './workers.js';

const WARMUP = 20;

function summary(latencies: number[]) {
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
}

export async function roundTripScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const runs = ctx.options.roundTrips;
  ctx.log(`round trip: ${runs} sequential enqueue -> result (after ${WARMUP} warm-up), a worker running on each side`);
  let baselineWorker: LongRunning | undefined;
  let tqWorker: LongRunning | undefined;
  try {
    const rounds = await alternate(ctx, 'round trip', {
      baseline: async (r) => {
        const { prefix } = baselinePrefix(ctx.root, `roundtrip-r${r}`);
        baselineWorker = await startBaselineWorker(ctx, { label: 'roundtrip', prefix, queue: 'bench', concurrency: 1, mode: 'noop' });
        try {
          const out = await runJson<{ latencies: number[] }>(
            benchScript('baseline/producer.js'),
            { mode: 'roundtrip', url: ctx.redisUrl, prefix, queue: 'bench', runs, warmup: WARMUP },
            { nodeFlags: ctx.nodeFlags(`roundtrip-bullmq-r${r}`) },
          );
          return summary(out.latencies);
        } finally {
          await baselineWorker.stop();
        }
      },
      tq: async (r) => {
        const project = makeProject(ctx.root, `roundtrip-r${r}`, ctx.redisUrl);
        tqWorker = await startTqWorker(ctx, project, { label: 'roundtrip', queue: 'bench', concurrency: 1 });
        try {
          const out = await runJson<{ latencies: number[] }>(
            benchScript('tq/producer.js'),
            { mode: 'roundtrip', url: ctx.redisUrl, prefix: project.prefix, dir: project.dir, runs, warmup: WARMUP },
            { nodeFlags: ctx.nodeFlags(`roundtrip-tq-r${r}`) },
          );
          return summary(out.latencies);
        } finally {
          await tqWorker.stop();
        }
      },
    });
    return [
      row(rounds, 'p50', { name: 'round trip p50', unit: 'ms', higherIsBetter: false, goal: atMost(1.2) }),
      row(rounds, 'p95', { name: 'round trip p95', unit: 'ms', higherIsBetter: false }),
      row(rounds, 'p99', { name: 'round trip p99', unit: 'ms', higherIsBetter: false }),
    ];
  } finally {
    await baselineWorker?.stop();
    await tqWorker?.stop();
  }
}
