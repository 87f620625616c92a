/**
 * Scenario 5, CLI: wall time of a fresh `tq enqueue hello world` (config loaded, Redis
 * connected, run added, history caught up) and of `tq --help`, against a minimal Node script
 * that connects with ioredis and adds one BullMQ job. Median of `cliReps` runs of each,
 * interleaved, after one warm-up run of each (disk cache, jiti's transpile cache).
 */
import { atMost, result, type BenchContext, type ScenarioResult } from '../lib/bench.js';
import { benchScript, timeProcess, TQ_BIN } from '../lib/proc.js';
import { baselinePrefix, makeProject } from '../lib/project.js';
import { round } from '../lib/stats.js';

export async function cliScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const reps = ctx.options.cliReps;
  ctx.log(`cli: fresh processes, median of ${reps}`);
  await ctx.redis.flushdb();
  const project = makeProject(ctx.root, 'cli', ctx.redisUrl);
  const { prefix } = baselinePrefix(ctx.root, 'cli');
  const minimal = () => timeProcess([benchScript('baseline/enqueue-one.js'), JSON.stringify({ url: ctx.redisUrl, prefix })]);
  const enqueue = (i: number) =>
    timeProcess([TQ_BIN, 'enqueue', 'hello', 'world'], {
      cwd: project.dir,
      env: project.env,
      nodeFlags: ctx.nodeFlags(`cli-enqueue-${i}`),
    });
  const help = (i: number) =>
    timeProcess([TQ_BIN, '--help'], { cwd: project.dir, env: project.env, nodeFlags: ctx.nodeFlags(`cli-help-${i}`) });
  await minimal();
  await enqueue(0);
  await help(0);
  const samples = { minimal: [] as number[], enqueue: [] as number[], help: [] as number[] };
  for (let i = 1; i <= reps; i++) {
    samples.minimal.push(await minimal());
    samples.enqueue.push(await enqueue(i));
    samples.help.push(await help(i));
    ctx.log(
      `  cli ${i}/${reps}  minimal script ${round(samples.minimal.at(-1)!)} ms, tq enqueue ${round(samples.enqueue.at(-1)!)} ms, tq --help ${round(samples.help.at(-1)!)} ms`,
    );
  }
  return [
    result(
      { name: 'CLI: tq enqueue hello world', unit: 'ms', higherIsBetter: false, goal: atMost(1.5) },
      { tq: samples.enqueue, baseline: samples.minimal },
    ),
    result({ name: 'CLI: tq --help', unit: 'ms', higherIsBetter: false }, { tq: samples.help, baseline: samples.minimal }),
  ];
}
