import { parseDuration } from '../../core/duration.js';
import type { CliContext } from '../context.js';
import { parseConcurrency, parseQueues } from '../worker-options.js';
import { metricsAddress } from '../worker-metrics.js';
import { serveUntilStopped } from '../worker-session.js';
import { createWorkerLogger, type LogLevel } from '../worker-log.js';

export interface WorkerCommandOptions {
  queues?: string;
  concurrency?: string;
  name?: string;
  loglevel?: LogLevel;
  logFormat?: 'text' | 'json';
  shutdownTimeout?: string;
  metricsPort?: string;
}

/** `tq worker`: consume queues until SIGTERM/SIGINT, then shut down warmly. */
export async function workerCommand(ctx: CliContext, options: WorkerCommandOptions): Promise<number> {
  const config = await ctx.config();
  const settings = ctx.settings(config);
  const queues = parseQueues(options.queues);
  const concurrency = parseConcurrency(options.concurrency, config.worker.concurrency);
  const shutdownTimeoutMs =
    options.shutdownTimeout !== undefined ? parseDuration(options.shutdownTimeout, '--shutdown-timeout') : config.worker.shutdownTimeoutMs;
  await metricsAddress(options.metricsPort);
  const logger = createWorkerLogger({
    level: options.loglevel ?? 'info',
    format: options.logFormat ?? 'text',
    color: ctx.out.color,
    write: (line) => ctx.out.print(line),
    batch: true,
  });
  return serveUntilStopped(ctx, {
    config,
    settings,
    queues,
    concurrency,
    shutdownTimeoutMs,
    logger,
    ...(options.name ? { name: options.name } : {}),
    json: options.logFormat === 'json',
    ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
  });
}
