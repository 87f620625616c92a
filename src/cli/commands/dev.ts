import path from 'node:path';
import { DEFAULT_REDIS_URL } from '../../config/index.js';
import { redisAnswers, startPrivateRedis, type PrivateRedis } from '../../queue/index.js';
import type { CliContext } from '../context.js';
import { createWorkerLogger } from '../worker-log.js';
import { startDevBeat } from './beat.js';
import { parseConcurrency, runUntilStopped } from './worker.js';

/**
 * Where `dev` and `demo` find Redis: the configured URL when one was given; else the default
 * when it answers; else a private redis-server they start (and stop on exit).
 */
export async function devRedis(ctx: CliContext, explicitUrl: string | undefined, dataDir: string): Promise<{ url: string; server?: PrivateRedis }> {
  if (explicitUrl) return { url: explicitUrl };
  if (await redisAnswers(DEFAULT_REDIS_URL, 1000)) return { url: DEFAULT_REDIS_URL };
  ctx.out.info(`no Redis at ${DEFAULT_REDIS_URL}; starting a private redis-server (data in ${path.relative(ctx.cwd, dataDir) || dataDir})`);
  const server = await startPrivateRedis(dataDir);
  return { url: server.url, server };
}

/** `tq dev`: a worker for every queue and beat in one process, with Redis taken care of. */
export async function devCommand(ctx: CliContext, options: { concurrency?: string }): Promise<number> {
  const config = await ctx.config();
  const base = ctx.settings(config);
  const redis = await devRedis(ctx, base.redisExplicit ? base.redisUrl : undefined, path.join(config.dir, '.tq', 'redis'));
  try {
    const settings = { ...base, redisUrl: redis.url };
    const logger = createWorkerLogger({ level: 'info', format: 'text', color: ctx.out.color, write: (l) => ctx.out.print(l) });
    const beat = await startDevBeat(ctx, { config, settings, logger });
    return await runUntilStopped(ctx, {
      config,
      settings,
      queues: [...config.queues],
      concurrency: parseConcurrency(options.concurrency, config.worker.concurrency),
      shutdownTimeoutMs: config.worker.shutdownTimeoutMs,
      logger,
      json: false,
      title: 'tq dev',
      extra: redis.server ? [['redis-server', `private, port ${redis.server.port}, stopped on exit`]] : [],
    }).finally(() => beat.stop());
  } finally {
    await redis.server?.stop();
  }
}
