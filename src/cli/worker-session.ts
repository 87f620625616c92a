import path from 'node:path';
import type { ResolvedConfig, Settings } from '../config/index.js';
import { maskRedisUrl } from '../core/url.js';
import { startWorker } from '../runtime/index.js';
import type { CliContext } from './context.js';
import type { WorkerLogger } from './worker-log.js';
import { serveWorkerMetrics } from './worker-metrics.js';

/** What `tq worker` and `tq dev` serve, and how their banner reads. */
export interface WorkerSessionOptions {
  config: ResolvedConfig;
  settings: Settings;
  /** Undefined: every queue of the config. */
  queues: readonly string[] | undefined;
  concurrency: number;
  shutdownTimeoutMs: number;
  logger: WorkerLogger;
  name?: string;
  /** The banner as one JSON log line (`--log-format json`). */
  json: boolean;
  title?: string;
  extra?: [string, string][];
  /** `--metrics-port`: serve this worker's process metrics (see cli/worker-metrics.ts). */
  metricsPort?: string;
}

/**
 * Starts a worker, prints its banner, serves until the first signal (or a control/zombie
 * request), then drains and prints how it stopped. Returns the exit code.
 */
export async function serveUntilStopped(ctx: CliContext, o: WorkerSessionOptions): Promise<number> {
  let stop: (why: { reason: string; code: number }) => void = () => undefined;
  const stopped = new Promise<{ reason: string; code: number }>((resolve) => {
    stop = resolve;
  });
  ctx.signals.onStop((signal) => stop({ reason: signal, code: 0 }));
  const worker = await startWorker(o.config, {
    redis: o.settings.redisUrl,
    prefix: o.settings.prefix,
    db: o.settings.dbFile,
    ...(o.queues ? { queues: o.queues } : {}),
    concurrency: o.concurrency,
    shutdownTimeout: o.shutdownTimeoutMs,
    logger: o.logger,
    guardProcess: true,
    onEvent: (event) => o.logger.event(event),
    ...(o.name ? { name: o.name } : {}),
    onZombieLimit: (n) => stop({ reason: `${n} zombie handlers (over worker.maxZombies); restart me`, code: 1 }),
    onShutdownRequest: () => stop({ reason: 'shutdown requested through the control channel', code: 0 }),
  });
  const metrics = o.metricsPort !== undefined ? await serveWorkerMetrics(worker, o.metricsPort) : undefined;
  const banner: [string, string][] = [
    ['queues', worker.queues.join(', ')],
    ['concurrency', `${worker.concurrency} per queue`],
    [
      'tasks',
      [...o.config.tasks.values()]
        .filter((t) => worker.queues.includes(t.queue))
        .map((t) => t.name)
        .sort()
        .join(', ') || '(none on these queues)',
    ],
    ['redis', `${maskRedisUrl(o.settings.redisUrl)} (Redis ${worker.redisVersion}, prefix ${o.settings.prefix})`],
    ['database', path.relative(ctx.cwd, o.settings.dbFile) || o.settings.dbFile],
    ['config', o.config.file ? path.relative(ctx.cwd, o.config.file) : '(built in)'],
    ...(o.extra ?? []),
    ...(metrics ? [['metrics', `${metrics.url}/metrics`] as [string, string]] : []),
  ];
  o.logger.flush(); // the banner after anything logged while starting
  if (o.json) {
    ctx.out.print(
      JSON.stringify({
        time: new Date().toISOString(),
        level: 'info',
        msg: 'worker ready',
        worker: worker.name,
        ...Object.fromEntries(banner),
      }),
    );
  } else {
    ctx.out.print(`${ctx.out.color.bold(o.title ?? 'tq worker')} ${worker.name} ready`);
    for (const [k, v] of banner) ctx.out.print(`  ${k.padEnd(12)} ${v}`);
  }
  const why = await stopped;
  o.logger.flush();
  o.logger.info(
    `${why.reason}: warm shutdown; ${worker.stats().active} active run(s) may finish for up to ${Math.round(o.shutdownTimeoutMs / 1000)}s (send a signal again to exit at once)`,
  );
  const report = await worker.close(o.shutdownTimeoutMs);
  await metrics?.close();
  if (report.forced)
    o.logger.warn(`shutdown timeout reached; handed back ${report.handedBack.length} run(s): ${report.handedBack.join(', ')}`);
  const stats = worker.stats();
  o.logger.info(`stopped (completed ${stats.processed}, failed ${stats.failed})`);
  o.logger.flush();
  return why.code;
}
