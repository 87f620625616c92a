/**
 * `npm run bench`: tq against plain BullMQ (+ sharp) on a private redis-server, scenario by
 * scenario, alternating the two sides. Progress goes to stderr; the table (or, with --json, one
 * JSON document) to stdout. See README "Performance" and `npm run bench -- --help`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../dist/queue/index.js';
import type { BenchContext, ScenarioResult } from './lib/bench.js';
import { machine } from './lib/machine.js';
import { HelpRequested, parseOptions, SCENARIOS, type ScenarioName } from './lib/options.js';
import { json, table } from './lib/report.js';
import { cliScenario } from './scenarios/cli.js';
import { drainScenario } from './scenarios/drain.js';
import { enqueueScenario } from './scenarios/enqueue.js';
import { historyScenario } from './scenarios/history.js';
import { memoryScenario } from './scenarios/memory.js';
import { monitorScenario } from './scenarios/monitor.js';
import { resizeScenario } from './scenarios/resize.js';
import { roundTripScenario } from './scenarios/roundtrip.js';

const RUNNERS: Record<ScenarioName, (ctx: BenchContext) => Promise<ScenarioResult[]>> = {
  enqueue: enqueueScenario,
  drain: drainScenario,
  roundtrip: roundTripScenario,
  resize: resizeScenario,
  cli: cliScenario,
  // After drain: it reports the RSS the drain measured.
  memory: memoryScenario,
  monitor: monitorScenario,
  history: historyScenario,
};

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(argv);
  } catch (err) {
    process.stderr.write(err instanceof HelpRequested ? err.message : `bench: ${(err as Error).message}\n`);
    return err instanceof HelpRequested ? 0 : 2;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-bench-'));
  const started = Date.now();
  log(`tq bench${options.quick ? ' --quick (indicative figures only)' : ''}: scratch ${root}`);
  const server = await startPrivateRedis(path.join(root, 'redis'), { appendonly: false });
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const profileDir = options.profileDir ? path.resolve(options.profileDir) : undefined;
  const ctx: BenchContext = {
    options,
    redisUrl: server.url,
    redis,
    root,
    log,
    nodeFlags: (label) => (profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, label)}`] : []),
    shared: new Map(),
    notes: [],
  };
  let failed = false;
  try {
    const about = await machine(redis);
    const rows: ScenarioResult[] = [];
    for (const name of SCENARIOS) {
      if (!options.only.has(name)) continue;
      try {
        rows.push(...(await RUNNERS[name](ctx)));
      } catch (err) {
        failed = true;
        const message = `${name}: FAILED — ${err instanceof Error ? err.message : String(err)}`;
        log(message);
        ctx.notes.push(message);
      }
    }
    const settings = {
      mode: options.quick ? 'quick' : 'full',
      rounds: options.rounds,
      runs: options.runs,
      inFlight: options.inFlight,
      concurrencies: options.concurrencies.join('/'),
      roundTrips: options.roundTrips,
      images: options.images,
      cliReps: options.cliReps,
      historyRuns: options.historyRuns,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    process.stdout.write(options.json ? json(about, settings, rows, ctx.notes) : table(about, settings, rows, ctx.notes));
  } finally {
    redis.disconnect();
    await server.stop();
    if (failed) log(`kept ${root} (logs of the failed scenario)`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
