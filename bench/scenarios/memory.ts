/**
 * Scenario 6, memory: RSS of an idle worker process (ready, 3 s later, nothing queued) on each
 * side, and after the drain (the drain scenario's largest concurrency, read before the worker
 * stopped). tq's figure includes its recorder, heartbeats and SQLite; the config it loads
 * also defines `resize`, so sharp is loaded as in a real application.
 */
import { alternate, MB, result, row, type BenchContext, type Goal, type ScenarioResult } from '../lib/bench.js';
import { sleep } from '../lib/proc.js';
import { baselinePrefix, makeProject } from '../lib/project.js';
import { startBaselineWorker, startTqWorker } from './workers.js';

const SETTLE_MS = 3000;
const IDLE_GOAL_MB = 120;

export async function memoryScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  ctx.log(`memory: worker RSS idle (${SETTLE_MS / 1000} s after ready)`);
  const rounds = await alternate(ctx, 'idle', {
    baseline: async () => {
      const { prefix } = baselinePrefix(ctx.root, 'idle');
      const worker = await startBaselineWorker(ctx, { label: 'idle', prefix, queue: 'bench', concurrency: 1, mode: 'noop' });
      await sleep(SETTLE_MS);
      const mem = worker.memory();
      await worker.stop();
      return { rssMB: mem.rss / MB };
    },
    tq: async () => {
      const project = makeProject(ctx.root, 'idle', ctx.redisUrl);
      const worker = await startTqWorker(ctx, project, { label: 'idle', queue: 'bench', concurrency: 1 });
      await sleep(SETTLE_MS);
      const mem = worker.memory();
      await worker.stop();
      return { rssMB: mem.rss / MB };
    },
  });
  const rows = [
    row(rounds, 'rssMB', {
      name: 'worker RSS, idle',
      unit: 'MB',
      higherIsBetter: false,
      goal: (r): Goal => ({ text: `tq <= ${IDLE_GOAL_MB} MB`, met: r.tq <= IDLE_GOAL_MB }),
    }),
  ];
  const tq = ctx.shared.get('drain-rss-tq');
  const baseline = ctx.shared.get('drain-rss-baseline');
  const c = ctx.shared.get('drain-rss-concurrency')?.[0];
  if (tq && baseline) rows.push(result({ name: `worker RSS after drain (c=${c})`, unit: 'MB', higherIsBetter: false }, { tq, baseline }));
  else ctx.notes.push('memory: "after drain" needs the drain scenario (run without --only, or with --only drain,memory).');
  return rows;
}
