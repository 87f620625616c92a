/**
 * Scenario 8, history at scale: `task_runs` with a million runs (quick: 100,000), generated in one
 * process by direct inserts (bench/tq/history.ts), then free-text search, the newest page of a
 * filtered list, counts by state and task, the file size and pruning everything in chunks.
 * And what the search index costs the write path: the drain benchmark's tq side at the highest
 * concurrency with the search triggers against the same build with them dropped (the "BullMQ"
 * column holds the figure without them), and the recorder's own apply rate the same way.
 *
 * These rows compare tq with a target, not with BullMQ: for the scale rows the "BullMQ" column
 * holds the target, so the ratio reads as a fraction of it.
 */
import path from 'node:path';
import { openStore } from '../../dist/store/index.js';
import { SEARCH_TRIGGER_NAMES } from '../../dist/store/search-schema.js';
import { alternate, result, row, type BenchContext, type ScenarioResult } from '../lib/bench.js';
import { benchScript, runJson } from '../lib/proc.js';
import { makeProject, type BenchProject } from '../lib/project.js';
import { median } from '../lib/stats.js';
import { startTqWorker, waitTqDone } from './workers.js';

interface Scale {
  runs: number;
  fillSeconds: number;
  mbPerMillion: number;
  textP95Ms: number;
  filterP95Ms: number;
  countsP95Ms: number;
  pruneLongestMs: number;
  pruneSeconds: number;
  pruned: number;
}

const target = (name: string, unit: string, tq: number, goal: number): ScenarioResult =>
  result(
    { name, unit, higherIsBetter: false, goal: (r) => ({ text: `<= ${goal} ${unit}`, met: r.tq <= goal }) },
    { tq: [tq], baseline: [goal] },
  );

export async function historyScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const runs = ctx.options.historyRuns;
  const shown = runs.toLocaleString('en-US');
  ctx.log(`history: ${shown} runs in task_runs, then search, pages, counts, size and pruning`);
  const scale = await runJson<Scale>(benchScript('tq/history.js'), { dir: path.join(ctx.root, 'history-scale'), runs });
  ctx.log(
    `  filled in ${scale.fillSeconds.toFixed(0)} s; pruned ${scale.pruned.toLocaleString('en-US')} runs in ${scale.pruneSeconds.toFixed(1)} s`,
  );
  const rows = [
    target(`history ${shown}: free-text search p95`, 'ms', scale.textP95Ms, 50),
    target(`history ${shown}: newest page of a filtered list p95`, 'ms', scale.filterP95Ms, 20),
    target(`history ${shown}: counts by state and task p95`, 'ms', scale.countsP95Ms, 50),
    target(`history ${shown}: pruning, longest write transaction`, 'ms', scale.pruneLongestMs, 100),
  ];
  rows.push(
    result(
      { name: 'history: database file per million runs', unit: 'MB', higherIsBetter: false },
      { tq: [scale.mbPerMillion], baseline: [scale.mbPerMillion] },
    ),
  );

  ctx.log("history: the recorder applying a drain's events, with and without the search triggers");
  const apply = await runJson<{ fts: number[]; plain: number[] }>(benchScript('tq/history-apply.js'), {
    dir: path.join(ctx.root, 'history-apply'),
    runs: ctx.options.quick ? 10_000 : 30_000,
    rounds: Math.max(3, ctx.options.rounds),
  });
  rows.push(
    result(
      { name: 'history: recorder apply rate, search index on vs off', unit: 'events/s', higherIsBetter: true },
      { tq: apply.fts, baseline: apply.plain },
    ),
  );

  const c = Math.max(...ctx.options.concurrencies);
  const n = ctx.options.runs;
  ctx.log(`history: drain of ${n} no-op runs at concurrency ${c}, search triggers on vs off`);
  const drain = async (withIndex: boolean) => {
    const project = makeProject(ctx.root, `history-drain-${withIndex ? 'fts' : 'plain'}`, ctx.redisUrl);
    if (!withIndex) dropSearchTriggers(project);
    await runJson(benchScript('tq/producer.js'), {
      mode: 'bulk',
      fill: true,
      url: ctx.redisUrl,
      prefix: project.prefix,
      dir: project.dir,
      runs: n,
    });
    const worker = await startTqWorker(ctx, project, { label: `history-drain-c${c}`, queue: 'bench', concurrency: c });
    try {
      const span = await waitTqDone(project, n, 60_000 + n * 5);
      // To the history's last row: the recorder's work is part of the drain.
      return { rate: ((n - 1) / (span.historyAt - span.firstDone)) * 1000 };
    } finally {
      await worker.stop();
    }
  };
  const rounds = await alternate(
    ctx,
    `history drain c=${c}`,
    { baseline: () => drain(false), tq: () => drain(true) },
    { names: { baseline: 'no triggers', tq: 'search index' }, rounds: Math.max(3, ctx.options.rounds) },
  );
  rows.push(
    row(rounds, 'rate', {
      name: `history: drain c=${c} to the last history row, search index on vs off`,
      unit: 'runs/s',
      higherIsBetter: true,
      goal: (r) => ({ text: 'ratio >= 0.95', met: r.ratio >= 0.95 }),
    }),
  );
  ctx.notes.push(
    `history rows: for the scale rows the BullMQ column holds the target; for the index cost rows it holds the same build with the search triggers dropped (apply rate median of ${apply.fts.length} rounds: ${Math.round(median(apply.fts))} vs ${Math.round(median(apply.plain))} events/s).`,
  );
  return rows;
}

/** The project's database created now, without the search triggers (the "index off" build). */
function dropSearchTriggers(project: BenchProject): void {
  const store = openStore(project.dbFile);
  try {
    for (const name of SEARCH_TRIGGER_NAMES) store.db.exec(`DROP TRIGGER ${name}`);
  } finally {
    store.close();
  }
}
