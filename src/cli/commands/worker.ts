import { parseDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';
import { maskRedisUrl } from '../../core/url.js';
import type { ResolvedConfig } from '../../config/index.js';
import type { CliContext } from '../context.js';
import { serve } from '../serve.js';
import { createWorkerLogger, type LogLevel } from '../worker-log.js';
import path from 'node:path';

export interface WorkerCommandOptions {
  queues?: string;
  concurrency?: string;
  name?: string;
  loglevel?: LogLevel;
  logFormat?: 'text' | 'json';
  shutdownTimeout?: string;
}

export function parseConcurrency(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`--concurrency must be an integer from 1 to 1000 (got "${value}")`);
  return n;
}

export function parseQueues(value: string | undefined, config: ResolvedConfig): string[] {
  if (value === undefined) return [...config.queues];
  const queues = [...new Set(value.split(',').map((q) => q.trim()).filter(Boolean))];
  if (queues.length === 0) throw new UsageError('--queues needs at least one queue name');
  for (const q of queues) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(q)) throw new UsageError(`queue "${q}" must be letters, digits, _ . - and not start with _`);
  }
  return queues;
}

/** `tq worker`: consume queues until SIGTERM/SIGINT, then shut down warmly. */
export async function workerCommand(ctx: CliContext, options: WorkerCommandOptions): Promise<number> {
  const config = await ctx.config();
  const settings = ctx.settings(config);
  const queues = parseQueues(options.queues, config);
  const concurrency = parseConcurrency(options.concurrency, config.worker.concurrency);
  const shutdownTimeoutMs =
    options.shutdownTimeout !== undefined ? parseDuration(options.shutdownTimeout, '--shutdown-timeout') : config.worker.shutdownTimeoutMs;
  const logger = createWorkerLogger({
    level: options.loglevel ?? 'info',
    format: options.logFormat ?? 'text',
    color: ctx.out.color,
    write: (line) => ctx.out.print(line),
    batch: true,
  });
  return runUntilStopped(ctx, {
    config,
    settings,
    queues,
    concurrency,
    shutdownTimeoutMs,
    logger,
    ...(options.name ? { name: options.name } : {}),
    json: options.logFormat === 'json',
  });
}

export interface RunOptions {
  config: ResolvedConfig;
  settings: ReturnType<CliContext['settings']>;
  queues: string[];
  concurrency: number;
  shutdownTimeoutMs: number;
  logger: ReturnType<typeof createWorkerLogger>;
  name?: string;
  json: boolean;
  title?: string;
  extra?: [string, string][];
}

/** Serves until the first signal (or a control/zombie request), then drains; shared by `worker` and `dev`. */
export async function runUntilStopped(ctx: CliContext, o: RunOptions): Promise<number> {
  let stop: (why: { reason: string; code: number }) => void = () => undefined;
  const stopped = new Promise<{ reason: string; code: number }>((resolve) => {
    stop = resolve;
  });
  ctx.signals.onStop((signal) => stop({ reason: signal, code: 0 }));
  const serving = await serve({
    config: o.config,
    settings: o.settings,
    queues: o.queues,
    concurrency: o.concurrency,
    logger: o.logger,
    ...(o.name ? { name: o.name } : {}),
    onZombieLimit: (n) => stop({ reason: `${n} zombie handlers (over worker.maxZombies); restart me`, code: 1 }),
    onShutdownRequest: () => stop({ reason: 'shutdown requested through the control channel', code: 0 }),
  });
  const { runtime } = serving;
  const banner: [string, string][] = [
    ['queues', o.queues.join(', ')],
    ['concurrency', `${o.concurrency} per queue`],
    ['tasks', [...o.config.tasks.values()].filter((t) => o.queues.includes(t.queue)).map((t) => t.name).sort().join(', ') || '(none on these queues)'],
    ['redis', `${maskRedisUrl(o.settings.redisUrl)} (Redis ${serving.redisVersion}, prefix ${o.settings.prefix})`],
    ['database', path.relative(ctx.cwd, o.settings.dbFile) || o.settings.dbFile],
    ['config', o.config.file ? path.relative(ctx.cwd, o.config.file) : '(built in)'],
    ...(o.extra ?? []),
  ];
  o.logger.flush(); // the banner after anything logged while starting
  if (o.json) {
    ctx.out.print(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'worker ready', worker: runtime.name, ...Object.fromEntries(banner) }));
  } else {
    ctx.out.print(`${ctx.out.color.bold(o.title ?? 'tq worker')} ${runtime.name} ready`);
    for (const [k, v] of banner) ctx.out.print(`  ${k.padEnd(12)} ${v}`);
  }
  const why = await stopped;
  o.logger.flush();
  o.logger.info(
    `${why.reason}: warm shutdown; ${runtime.activeCount} active run(s) may finish for up to ${Math.round(o.shutdownTimeoutMs / 1000)}s (send a signal again to exit at once)`,
  );
  const report = await serving.stop(o.shutdownTimeoutMs);
  if (report.forced) o.logger.warn(`shutdown timeout reached; handed back ${report.handedBack.length} run(s): ${report.handedBack.join(', ')}`);
  const { processed, failed } = runtime.stats();
  o.logger.info(`stopped (completed ${processed}, failed ${failed})`);
  o.logger.flush();
  return why.code;
}
