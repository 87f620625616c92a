/**
 * The plain BullMQ producer side of the benchmark, written the way a user without tq would:
 * `queue.add`, `queue.addBulk`, `job.waitUntilFinished(queueEvents)`. One measurement per
 * process; prints one JSON line with the result.
 *
 *   node baseline/producer.js '{"mode":"single","url":"redis://...","prefix":"p","queue":"bench","runs":20000,"inFlight":64}'
 */
import { Queue, QueueEvents } from 'bullmq';

interface Args {
  mode: 'single' | 'bulk' | 'roundtrip' | 'resize';
  url: string;
  prefix: string;
  queue: string;
  runs: number;
  inFlight?: number;
  chunk?: number;
  warmup?: number;
  /** bulk: just fill the queue (no warm-up run), for the drain. */
  fill?: boolean;
  /** resize: input files and the directory thumbnails go to. */
  files?: string[];
  outDir?: string;
}

/** CPU time this process used since `since`, ms (a steadier figure than wall time on a busy host). */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const { hostname, port } = new URL(args.url);
const connection = { host: hostname, port: Number(port) };
const queue = new Queue(args.queue, { connection, prefix: args.prefix });

/** `count` runs with `inFlight` outstanding. */
async function addConcurrently(count: number, inFlight: number, from = 0): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const i = from + next++;
        await queue.add('noop', { i });
      }
    }),
  );
}

async function single(): Promise<unknown> {
  await queue.add('noop', { i: -1 }); // connection and scripts loaded before the clock starts
  // Untimed runs first when asked: then the steady state is measured, not the JIT warming up.
  if (args.warmup) await addConcurrently(args.warmup, args.inFlight ?? 64, -args.warmup - 1);
  let next = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: args.inFlight ?? 64 }, async () => {
      while (next < args.runs) {
        const i = next++;
        await queue.add('noop', { i });
      }
    }),
  );
  return { ms: performance.now() - started, runs: args.runs, cpuMs: cpuMs(cpu) };
}

async function bulk(): Promise<unknown> {
  if (!args.fill) await queue.add('noop', { i: -1 });
  const chunk = args.chunk ?? 500;
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < args.runs; i += chunk) {
    const n = Math.min(chunk, args.runs - i);
    await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'noop', data: { i: i + k } })));
  }
  return { ms: performance.now() - started, runs: args.runs, cpuMs: cpuMs(cpu) };
}

async function roundTrip(): Promise<unknown> {
  const events = new QueueEvents(args.queue, { connection, prefix: args.prefix });
  await events.waitUntilReady();
  const latencies: number[] = [];
  const total = (args.warmup ?? 0) + args.runs;
  for (let i = 0; i < total; i++) {
    const started = performance.now();
    const job = await queue.add('noop', { i });
    await job.waitUntilFinished(events, 30_000);
    if (i >= (args.warmup ?? 0)) latencies.push(performance.now() - started);
  }
  await events.close();
  return { latencies };
}

async function resize(): Promise<unknown> {
  const files = args.files ?? [];
  await queue.addBulk(files.map((input, i) => ({ name: 'resize', data: { input, output: `${args.outDir}/${i}_resized.jpg` } })));
  return { runs: files.length };
}

const modes = { single, bulk, roundtrip: roundTrip, resize };
const result = await modes[args.mode]();
await queue.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
