import fs from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import ora from 'ora';
import { configFromObject } from '../../config/index.js';
import { settlesWithin } from '../../core/async.js';
import { formatBytes, formatDuration } from '../../core/duration.js';
import { RuntimeError } from '../../core/errors.js';
import { FINAL_STATES, type TaskState } from '../../core/states.js';
import type { RunEvent } from '../../core/run-events.js';
import { maskRedisUrl } from '../../core/url.js';
import { Producer } from '../../queue/index.js';
import { clearPrefix, devRedis, startWorker } from '../../runtime/index.js';
import { generateSampleImages, resizeImage } from '../../tasks/index.js';
import type { CliContext } from '../context.js';
import { createProgress } from '../progress.js';
import { createWorkerLogger } from '../worker-log.js';
import { parseConcurrency } from '../worker-options.js';

const DEMO_TIMEOUT_MS = 120_000;

/**
 * `tq demo`: sample images in, thumbnails out. Runs a worker in this process and never mixes
 * with real work: its own prefix (`<prefix>-demo`) and files under `.tq/demo`.
 */
export async function demoCommand(ctx: CliContext, options: { concurrency?: string }): Promise<number> {
  const started = Date.now();
  const root = path.resolve(ctx.cwd, '.tq', 'demo');
  const base = ctx.settings(undefined);
  const concurrency = parseConcurrency(options.concurrency, 2);

  const samples = await generateSampleImages(path.join(root, 'samples'));
  // A clean slate each run: the demo's own records and thumbnails only.
  fs.rmSync(path.join(root, 'media'), { recursive: true, force: true });
  for (const f of ['tq.db', 'tq.db-wal', 'tq.db-shm']) fs.rmSync(path.join(root, f), { force: true });

  const config = configFromObject({ tasks: { resize: resizeImage({ queue: 'images' }) }, media: 'media' }, root);
  const dataDir = path.join(root, 'redis');
  const redis = await devRedis(base.redisExplicit ? base.redisUrl : undefined, dataDir, (url) =>
    ctx.out.info(`no Redis at ${url}; starting a private redis-server (data in ${path.relative(ctx.cwd, dataDir) || dataDir})`),
  );
  const settings = { ...base, redisUrl: redis.url, prefix: `${base.prefix}-demo`, dbFile: path.join(root, 'tq.db') };
  try {
    await clearPrefix(settings.redisUrl, settings.prefix);

    ctx.out.info(
      `tq demo: ${samples.length} sample images -> 800x600 thumbnails (Redis ${maskRedisUrl(settings.redisUrl)}, prefix ${settings.prefix}, files in ${path.relative(ctx.cwd, root)})`,
    );
    const finals = new Map<string, RunEvent>();
    let resolveAll: () => void = () => undefined;
    const allDone = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    let expected = Number.POSITIVE_INFINITY;
    const logger = createWorkerLogger({ level: 'warn', format: 'text', color: ctx.out.color, write: (l) => ctx.out.info(l) });
    const worker = await startWorker(config, {
      redis: settings.redisUrl,
      prefix: settings.prefix,
      db: settings.dbFile,
      queues: ['images'],
      concurrency,
      logger,
      // The demo's data is throwaway: Redis persistence and eviction do not matter here.
      serverWarnings: false,
      onEvent: (event) => {
        logger.event(event);
        if (!FINAL_STATES.has(event.type as TaskState)) return;
        finals.set(event.jobId, event);
        if (finals.size >= expected) resolveAll();
      },
    });
    const producer = await Producer.connect(config, { ...settings, onWarning: (m) => ctx.out.warn(m) });
    try {
      const resize = config.tasks.get('resize')!;
      const bar = createProgress(ctx.out, 'storing', samples.length);
      const prepared = await resize.definition.fromArgs!(samples, {
        cwd: ctx.cwd,
        media: config.mediaDir,
        db: worker.records,
        tick: () => bar.increment(),
      });
      bar.stop();
      const enqueueBar = createProgress(ctx.out, 'enqueuing', prepared.length);
      const runs = await producer.enqueueMany(
        prepared.map((p) => ({ task: 'resize', payload: p.payload })),
        (n) => enqueueBar.update(n),
      );
      enqueueBar.stop();
      expected = runs.length;
      if (finals.size >= expected) resolveAll();

      const spinner = ctx.out.errTty
        ? ora({ text: `resizing ${runs.length} images with ${concurrency} worker slots`, stream: process.stderr }).start()
        : undefined;
      const timedOut = !(await settlesWithin(allDone, DEMO_TIMEOUT_MS));
      spinner?.stop();
      if (timedOut)
        throw new RuntimeError(
          'E_DEMO_TIMEOUT',
          `the demo did not finish within ${DEMO_TIMEOUT_MS / 1000}s (${finals.size}/${runs.length} done)`,
        );

      const table = new Table({
        head: ['image', 'format', 'before', 'after', 'bytes', 'time', 'state'],
        style: ctx.out.color.level > 0 ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] },
      });
      let failed = 0;
      runs.forEach((run, i) => {
        const p = prepared[i]!;
        const record = worker.records.images.get(String(p.meta?.recordId));
        const event = finals.get(run.id);
        const ok = event?.type === 'completed';
        if (!ok) failed += 1;
        const result = (event?.result ?? {}) as { format?: string };
        table.push([
          path.basename(p.label ?? ''),
          result.format ?? '-',
          record?.width ? `${record.width}x${record.height}` : '-',
          record?.resized_width ? `${record.resized_width}x${record.resized_height}` : '-',
          record?.bytes && record.resized_bytes ? `${formatBytes(record.bytes)} -> ${formatBytes(record.resized_bytes)}` : '-',
          event?.runtimeMs !== undefined ? formatDuration(event.runtimeMs) : '-',
          ok ? ctx.out.color.green('completed') : ctx.out.color.red(`${event?.type ?? 'unknown'}: ${event?.error ?? ''}`),
        ]);
      });
      ctx.out.print(table.toString());
      ctx.out.print(
        `${runs.length - failed}/${runs.length} thumbnails in ${formatDuration(Date.now() - started)}; thumbnails in ${path.relative(ctx.cwd, path.join(config.mediaDir, 'resized'))}, records and history in ${path.relative(ctx.cwd, settings.dbFile)}`,
      );
      await producer.close();
      await worker.close(5000);
      return failed > 0 ? 1 : 0;
    } catch (err) {
      await producer.close();
      await worker.close(1000);
      throw err;
    }
  } finally {
    await redis.stop();
  }
}
