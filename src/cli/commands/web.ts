import { parsePort } from '../web-options.js';
import { maskRedisUrl } from '../../core/url.js';
import { startWebServer } from '../../web/server.js';
import type { CliContext } from '../context.js';

export interface WebCommandOptions {
  port?: string;
  host?: string;
  readOnly?: boolean;
  allowActions?: boolean;
}

/** `tq web`: the REST API, live events and /metrics until Ctrl-C. Tokens come from the environment only. */
export async function webCommand(ctx: CliContext, opts: WebCommandOptions): Promise<number> {
  const port = parsePort(opts.port);
  const host = opts.host ?? '127.0.0.1';
  const config = await ctx.config();
  const settings = ctx.settings(config);
  const server = await startWebServer(config, settings, {
    port,
    host,
    readOnly: opts.readOnly === true,
    allowActions: opts.allowActions === true,
    env: ctx.env,
    logger: { info: (m) => ctx.out.info(m), warn: (m) => ctx.out.warn(m), error: (m) => ctx.out.info(`error: ${m}`) },
  });
  const { summary } = server;
  const access =
    summary.tokens > 0
      ? `${summary.tokens} token(s)${summary.readOnly ? ', read-only' : ''}`
      : `no tokens: loopback only, ${summary.readOnly || summary.anonymousRole === 'viewer' ? 'read-only (--allow-actions to act)' : 'actions allowed'}`;
  ctx.out.info(`tq web listening on ${server.url} (Redis ${maskRedisUrl(settings.redisUrl)}, prefix ${settings.prefix}; ${access})`);
  ctx.out.info(`  API ${server.url}/api/openapi.json  metrics ${server.url}/metrics`);
  await new Promise<void>((resolve) => ctx.signals.onStop(() => resolve()));
  await server.close();
  return 0;
}
