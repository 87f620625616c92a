/**
 * Scenario 7, monitor: the Redis commands one `tq monitor` refresh issues (INFO commandstats
 * deltas over 20 refreshes at 200 ms, nothing else running) and how long a refresh takes, with
 * 100,000 waiting runs against 1 waiting run. A refresh must not scale with the queue: the two
 * command counts must be the same (ratio 1.00). Unlike the other rows this compares tq with
 * itself: the "BullMQ" column holds the 1-waiting-run figure.
 */
import { alternate, row, type BenchContext, type ScenarioResult } from '../lib/bench.js';
import { benchScript, runJson } from '../lib/proc.js';
import { makeProject } from '../lib/project.js';

const REFRESHES = 20;

interface Measured {
  waiting: number;
  commandsPerRefresh: number;
  refreshMs: number;
}

export async function monitorScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const loaded = ctx.options.monitorRuns;
  const shown = loaded.toLocaleString('en-US');
  ctx.log(`monitor: Redis commands per refresh with ${shown} waiting runs vs 1`);
  const measure = async (waiting: number) => {
    const project = makeProject(ctx.root, `monitor-${waiting}`, ctx.redisUrl);
    await runJson(benchScript('tq/producer.js'), {
      mode: 'bulk',
      fill: true,
      url: ctx.redisUrl,
      prefix: project.prefix,
      dir: project.dir,
      runs: waiting,
    });
    const m = await runJson<Measured>(benchScript('tq/monitor.js'), {
      url: ctx.redisUrl,
      prefix: project.prefix,
      dir: project.dir,
      refreshes: REFRESHES,
    });
    if (m.waiting !== waiting) throw new Error(`the monitor saw ${m.waiting} waiting runs, expected ${waiting}`);
    return { commands: m.commandsPerRefresh, refreshMs: m.refreshMs };
  };
  const rounds = await alternate(
    ctx,
    'monitor',
    { baseline: () => measure(1), tq: () => measure(loaded) },
    { names: { baseline: '1 waiting', tq: `${shown} waiting` } },
  );
  const commands = row(rounds, 'commands', {
    name: `monitor: Redis commands/refresh (${shown} vs 1 waiting)`,
    unit: 'commands',
    higherIsBetter: false,
  });
  // "The same": the ratio, to two decimals, is 1.
  commands.goal = { text: 'ratio = 1.00 (same)', met: commands.ratio === 1 };
  ctx.notes.push(
    'monitor rows compare tq with itself: the BullMQ column holds the figure with 1 waiting run, the tq column the loaded one.',
  );
  return [commands, row(rounds, 'refreshMs', { name: `monitor: refresh time (${shown} vs 1 waiting)`, unit: 'ms', higherIsBetter: false })];
}
