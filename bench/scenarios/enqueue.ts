/**
 * Scenario 1, enqueue: N no-op runs one at a time with `inFlight` outstanding, and the same in
 * bulk. tq: the client API (`createClient(config).enqueue`) and `Producer.enqueueMany` (what
 * `tq enqueue` uses for many files); BullMQ: `queue.add` and `queue.addBulk` (chunks of 500, as
 * tq). Each measurement is a fresh producer process; connection set-up is not timed.
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
  for (const mode of ['single', 'bulk'] as const) {
    const label = mode === 'single' ? `enqueue one at a time (${inFlight} in flight)` : 'enqueue in bulk';
    ctx.log(`${label}: ${runs} runs`);
    const rounds = await alternate(ctx, mode, {
      baseline: async () => {
        const { prefix } = baselinePrefix(ctx.root, `enqueue-${mode}`);
        const r = await runJson<Timed>(benchScript('baseline/producer.js'), { mode, url: ctx.redisUrl, prefix, queue: 'bench', runs, inFlight }, { nodeFlags: ctx.nodeFlags(`enqueue-${mode}-bullmq`) });
        return { rate: (r.runs / r.ms) * 1000 };
      },
      tq: async () => {
        const project = makeProject(ctx.root, `enqueue-${mode}`, ctx.redisUrl);
        const r = await runJson<Timed>(
          benchScript('tq/producer.js'),
          { mode, url: ctx.redisUrl, prefix: project.prefix, dir: project.dir, runs, inFlight },
          { nodeFlags: ctx.nodeFlags(`enqueue-${mode}-tq`) },
        );
        return { rate: (r.runs / r.ms) * 1000 };
      },
    });
    rows.push(row(rounds, 'rate', { name: label, unit: 'runs/s', higherIsBetter: true, goal: atLeast(0.9) }));
  }
  return rows;
}
