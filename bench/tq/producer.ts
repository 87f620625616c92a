/**
 * The tq producer side of the benchmark: the client API (`createClient(config).enqueue`,
 * `run.wait()`), and for bulk the producer `tq enqueue` uses for many files
 * (`Producer.enqueueMany`, chunks of 500). One measurement per process; prints one JSON line.
 *
 *   node tq/producer.js '{"mode":"single","url":"redis://...","prefix":"p","dir":"/tmp/x","runs":20000,"inFlight":64}'
 */
import { createClient } from 'tq-toolkit';
import { configFromObject, resolveSettings } from '../../dist/config/index.js';
import { Producer } from '../../dist/queue/index.js';
import config from './app-config.js';

interface Args {
  mode: 'single' | 'bulk' | 'roundtrip';
  url: string;
  prefix: string;
  /** Project directory (media, SQLite file). */
  dir: string;
  runs: number;
  inFlight?: number;
  warmup?: number;
  /** bulk: just fill the queue (no warm-up run), for the drain. */
  fill?: boolean;
}

/** CPU time this process used since `since`, ms (a steadier figure than wall time on a busy host). */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;

async function single(): Promise<unknown> {
  const tq = createClient(config, { redis: args.url, prefix: args.prefix, dir: args.dir });
  await tq.enqueue('noop', { i: -1 }); // connection and scripts loaded before the clock starts
  // Untimed runs first when asked: then the steady state is measured, not the JIT warming up.
  if (args.warmup) {
    let w = 0;
    await Promise.all(
      Array.from({ length: args.inFlight ?? 64 }, async () => {
        while (w < args.warmup!) {
          w += 1;
          await tq.enqueue('noop', { i: -w - 1 });
        }
      }),
    );
  }
  let next = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: args.inFlight ?? 64 }, async () => {
      while (next < args.runs) {
        const i = next++;
        await tq.enqueue('noop', { i });
      }
    }),
  );
  const ms = performance.now() - started;
  const used = cpuMs(cpu);
  await tq.close();
  return { ms, runs: args.runs, cpuMs: used };
}

async function bulk(): Promise<unknown> {
  const resolved = configFromObject(config, args.dir);
  const settings = resolveSettings({ redis: args.url, prefix: args.prefix }, {}, resolved, args.dir);
  const producer = await Producer.connect(resolved, settings);
  if (!args.fill) await producer.enqueue('noop', { i: -1 });
  const started = performance.now();
  const cpu = process.cpuUsage();
  await producer.enqueueMany(Array.from({ length: args.runs }, (_, i) => ({ task: 'noop', payload: { i } })));
  const ms = performance.now() - started;
  const used = cpuMs(cpu);
  await producer.close();
  return { ms, runs: args.runs, cpuMs: used };
}

async function roundTrip(): Promise<unknown> {
  const tq = createClient(config, { redis: args.url, prefix: args.prefix, dir: args.dir });
  const latencies: number[] = [];
  const total = (args.warmup ?? 0) + args.runs;
  for (let i = 0; i < total; i++) {
    const started = performance.now();
    const run = await tq.enqueue('noop', { i });
    await run.wait({ timeout: '30s' });
    if (i >= (args.warmup ?? 0)) latencies.push(performance.now() - started);
  }
  await tq.close();
  return { latencies };
}

const modes = { single, bulk, roundtrip: roundTrip };
const result = await modes[args.mode]();
process.stdout.write(`${JSON.stringify(result)}\n`);
