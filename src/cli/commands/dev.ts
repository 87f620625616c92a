import path from 'node:path';
import { resolveSchedules, scheduleRow } from '../../beat/index.js';
import { errorMessage } from '../../core/errors.js';
import { devRedis, startBeat } from '../../runtime/index.js';
import type { ResolvedConfig, Settings } from '../../config/index.js';
import type { CliContext } from '../context.js';
import { scheduleTable } from '../schedule-table.js';
import { parseConcurrency } from '../worker-options.js';
import { parsePort } from '../web-options.js';
import { serveUntilStopped } from '../worker-session.js';
import { createWorkerLogger } from '../worker-log.js';

/** `tq dev`: a worker for every queue and beat in one process, with Redis taken care of. */
export async function devCommand(ctx: CliContext, options: { concurrency?: string; web?: boolean; webPort?: string }): Promise<number> {
  const config = await ctx.config();
  const base = ctx.settings(config);
  const dataDir = path.join(config.dir, '.tq', 'redis');
  const redis = await devRedis(base.redisExplicit ? base.redisUrl : undefined, dataDir, (url) =>
    ctx.out.info(`no Redis at ${url}; starting a private redis-server (data in ${path.relative(ctx.cwd, dataDir) || dataDir})`),
  );
  try {
    const settings = { ...base, redisUrl: redis.url };
    const logger = createWorkerLogger({ level: 'info', format: 'text', color: ctx.out.color, write: (l) => ctx.out.print(l) });
    // The beat records no history of its own: the worker does.
    const beat = await startBeat(config, {
      redis: settings.redisUrl,
      prefix: settings.prefix,
      db: settings.dbFile,
      logger,
      history: false,
    });
    const schedules = resolveSchedules(config);
    if (schedules.length > 0) {
      ctx.out.print(`${ctx.out.color.bold('tq dev')} beat: ${schedules.length} schedule(s)`);
      for (const line of scheduleTable(schedules.map((s) => scheduleRow(s, undefined, Date.now())))) ctx.out.print(`  ${line}`);
    }
    // A bug in the beat is reported without taking the worker down.
    beat.done.catch((err: unknown) => logger.error(`beat stopped: internal error: ${errorMessage(err)}`));
    ctx.signals.onStop(() => void beat.close().catch(() => undefined));
    const web = options.web ? await startDevWeb(ctx, config, settings, options.webPort) : undefined;
    return await serveUntilStopped(ctx, {
      config,
      settings,
      queues: undefined,
      concurrency: parseConcurrency(options.concurrency, config.worker.concurrency),
      shutdownTimeoutMs: config.worker.shutdownTimeoutMs,
      logger,
      json: false,
      title: 'tq dev',
      extra: redis.privatePort !== undefined ? [['redis-server', `private, port ${redis.privatePort}, stopped on exit`]] : [],
    }).finally(async () => {
      await web?.close().catch(() => undefined);
      await beat.close().catch(() => undefined);
    });
  } finally {
    await redis.stop();
  }
}

/** `tq dev --web`: tq web on loopback beside the worker, with actions allowed (it is your machine). */
async function startDevWeb(ctx: CliContext, config: ResolvedConfig, settings: Settings, port: string | undefined) {
  const { startWebServer } = await import('../../web/server.js');
  const server = await startWebServer(config, settings, {
    port: parsePort(port, '--web-port'),
    host: '127.0.0.1',
    readOnly: false,
    allowActions: true,
    env: ctx.env,
    logger: { info: (m) => ctx.out.info(m), warn: (m) => ctx.out.warn(m), error: (m) => ctx.out.info(`error: ${m}`) },
  });
  ctx.out.print(`${ctx.out.color.bold('tq dev')} web: ${server.url} (API ${server.url}/api/openapi.json, metrics ${server.url}/metrics)`);
  return server;
}
