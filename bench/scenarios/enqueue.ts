/**
 * Scenario 1, enqueue: N no-op runs one at a time with `inFlight` outstanding, and the same in
 * bulk. tq: the client API (`createClient(config).enqueue`) and `Producer.enqueueMany` (what
 * `tq enqueue` uses for many files); BullMQ: `queue.add` and `queue.addBulk` (chunks of 500, as
 * tq). Each measurement is a fresh producer process; connection set-up is not timed. One-at-a-time
 * is measured twice: from the first runs on, and after as many untimed runs (steady state).
 */
import { alternate, atLeast, row, type BenchContext, type ScenarioResult } from '../lib/bench.js';
import { benchScript, runJson } from '../lib/proc.js';
import { baselinePrefix, makeProject } from '../lib/project.js';

interface Timed {
  ms: number;
  runs: number;
}

export async function enqueueScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { runs, inFlight } = ctx.options;
  const rows: ScenarioResult[] = [];
  for (const [mode, warmup] of [
    ['single', 0],
    ['single', runs],
    ['bulk', 0],
  ] as const) {
    const label =
      mode === 'bulk'
        ? 'enqueue in bulk'
        : warmup
          ? `enqueue one at a time, warmed up (after ${warmup.toLocaleString('en-US')} untimed)`
          : `enqueue one at a time (${inFlight} in flight)`;
    ctx.log(`${label}: ${runs} runs`);
    const rounds = await alternate(ctx, warmup ? 'warm' : mode, {
      baseline: async () => {
        const { prefix } = baselinePrefix(ctx.root, `enqueue-${mode}`);
        const r = await runJson<Timed>(
          benchScript('baseline/producer.js'),
          { mode, url: ctx.redisUrl, prefix, queue: 'bench', runs, inFlight, warmup },
          { nodeFlags: ctx.nodeFlags(`enqueue-${mode}-bullmq`) },
        );
        return { rate: (r.runs / r.ms) * 1000 };
      },
      tq: async () => {
        const project = makeProject(ctx.root, `enqueue-${mode}`, ctx.redisUrl);
        const r = await runJson<Timed>(
          benchScript('tq/producer.js'),
          { mode, url: ctx.redisUrl, prefix: project.prefix, dir: project.dir, runs, inFlight, warmup },
          { nodeFlags: ctx.nodeFlags(`enqueue-${mode}-tq`) },
        );
        return { rate: (r.runs / r.ms) * 1000 };
      },
    });
    // The goal is judged on a fresh producer process (as a short-lived script enqueues); the
    // warmed-up row shows what a long-running server sees.
    rows.push(row(rounds, 'rate', { name: label, unit: 'runs/s', higherIsBetter: true, ...(warmup ? {} : { goal: atLeast(0.9) }) }));
  }
  return rows;
}
