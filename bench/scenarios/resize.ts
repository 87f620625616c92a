/**
 * Scenario 4, resize: N generated 3000x2000 JPEGs through a worker at concurrency 2. tq: the
 * built-in `resize` task (`tq enqueue resize <files>` then `tq worker -Q images -c 2`: image
 * records, fsync'd atomic writes, history); BullMQ: a bare Worker with sharp and the same
 * settings (fit inside 800x600, lanczos3, without enlargement, EXIF rotation, JPEG quality 85).
 * Images/s from the first start to the last completion, and the worker's peak RSS (VmHWM).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeTestImage } from 'tq-toolkit/tasks';
import { alternate, atLeast, MB, row, type BenchContext, type ScenarioResult } from '../lib/bench.js';
import { benchScript, runJson, timeProcess, TQ_BIN } from '../lib/proc.js';
import { baselinePrefix, makeProject } from '../lib/project.js';
import { startBaselineWorker, startTqWorker, waitBaselineDone, waitTqDone } from './workers.js';

const CONCURRENCY = 2;

/** Writes every dirty page to disk (`sync`), so one side's earlier file writes do not slow the next. */
function flushToDisk(): void {
  try {
    execFileSync('sync', { stdio: 'ignore' });
  } catch {
    // No `sync` binary (not Linux/macOS): the figures are then just noisier.
  }
}
/** Distinct pictures drawn; the rest are copies under other names (drawing one takes ~0.1 s). */
const DISTINCT = 20;

async function makeImages(dir: string, n: number): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `photo-${String(i).padStart(4, '0')}.jpg`);
    if (i < DISTINCT) await writeTestImage(file, { width: 3000, height: 2000, format: 'jpeg', variant: i });
    else fs.copyFileSync(files[i % DISTINCT]!, file);
    files.push(file);
  }
  return files;
}

export async function resizeScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const n = ctx.options.images;
  ctx.log(`resize: ${n} 3000x2000 JPEGs, one worker process at concurrency ${CONCURRENCY}`);
  const files = await makeImages(path.join(ctx.root, 'images'), n);
  flushToDisk();
  const timeoutMs = 120_000 + n * 2000;
  const rounds = await alternate(ctx, 'resize', {
    baseline: async () => {
      const { prefix, dir } = baselinePrefix(ctx.root, 'resize');
      await runJson(benchScript('baseline/producer.js'), {
        mode: 'resize',
        url: ctx.redisUrl,
        prefix,
        queue: 'images',
        runs: n,
        files,
        outDir: dir,
      });
      flushToDisk();
      const worker = await startBaselineWorker(ctx, { label: 'resize', prefix, queue: 'images', concurrency: CONCURRENCY, mode: 'resize' });
      try {
        const cpu = worker.cpuMs();
        const span = await waitBaselineDone(ctx.redis, prefix, 'images', n, timeoutMs);
        const mem = worker.memory();
        return { rate: (n / (span.lastDone - span.firstStart)) * 1000, peakMB: mem.peak / MB, cpuMsPerImage: (worker.cpuMs() - cpu) / n };
      } finally {
        await worker.stop();
      }
    },
    tq: async () => {
      const project = makeProject(ctx.root, 'resize', ctx.redisUrl);
      // What a user does: upload the files (copied into media, one image record each).
      await timeProcess([TQ_BIN, 'enqueue', 'resize', ...files], { cwd: project.dir, env: project.env });
      // `tq enqueue` copied the files into media: their write-back to disk belongs to the
      // upload, not to the worker measured next (it throttled the worker's own writes by ~20 %).
      flushToDisk();
      const worker = await startTqWorker(ctx, project, { label: 'resize', queue: 'images', concurrency: CONCURRENCY });
      try {
        const cpu = worker.cpuMs();
        const span = await waitTqDone(project, n, timeoutMs);
        const mem = worker.memory();
        return { rate: (n / (span.lastDone - span.firstStart)) * 1000, peakMB: mem.peak / MB, cpuMsPerImage: (worker.cpuMs() - cpu) / n };
      } finally {
        await worker.stop();
      }
    },
  });
  return [
    row(rounds, 'rate', { name: `resize 3000x2000 JPEG (c=${CONCURRENCY})`, unit: 'images/s', higherIsBetter: true, goal: atLeast(0.9) }),
    row(rounds, 'peakMB', { name: 'resize: worker peak RSS', unit: 'MB', higherIsBetter: false }),
    row(rounds, 'cpuMsPerImage', { name: 'resize: worker CPU per image', unit: 'ms', higherIsBetter: false }),
  ];
}
