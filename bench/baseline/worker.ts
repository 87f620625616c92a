/**
 * The plain BullMQ worker side of the benchmark: a bare `Worker` with BullMQ's defaults (which
 * keep every completed job in Redis), and for `resize` sharp with the same settings as tq's
 * resize task. Prints "ready" once connected; exits on SIGTERM after closing.
 *
 *   node baseline/worker.js '{"mode":"noop","url":"redis://...","prefix":"p","queue":"bench","concurrency":8}'
 */
import { Worker, type Job } from 'bullmq';
import sharp from 'sharp';

interface Args {
  mode: 'noop' | 'resize';
  url: string;
  prefix: string;
  queue: string;
  concurrency: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const { hostname, port } = new URL(args.url);
const connection = { host: hostname, port: Number(port) };

async function resize(job: Job<{ input: string; output: string }>) {
  const info = await sharp(job.data.input)
    .rotate() // apply EXIF orientation
    .resize({ width: 800, height: 600, fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
    .jpeg({ quality: 85 })
    .toFile(job.data.output);
  return { width: info.width, height: info.height, bytes: info.size };
}

const worker = new Worker(args.queue, args.mode === 'resize' ? resize : async () => null, {
  connection,
  prefix: args.prefix,
  concurrency: args.concurrency,
});
worker.on('error', (err) => console.error(err));
await worker.waitUntilReady();
console.log('ready');

process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
