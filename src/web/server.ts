/**
 * `tq web`: one HTTP server process serving `/api/*`, `/metrics`, `/healthz` and `/readyz`.
 * Stateless apart from this host's history file (kept current like every tq process), so
 * several can run behind a load balancer.
 */
import type { ResolvedConfig, Settings } from '../config/index.js';
import { RuntimeError, errorMessage } from '../core/errors.js';
import { accessPolicy, tokensFromEnv } from './auth.js';
import { buildApp } from './app.js';
import { openWebContext, type WebLogger } from './context.js';

export interface WebServerOptions {
  port: number;
  host: string;
  readOnly: boolean;
  allowActions: boolean;
  /** Where tokens come from (`TQ_WEB_TOKENS`, `TQ_WEB_TOKENS_FILE`). */
  env: Readonly<Record<string, string | undefined>>;
  logger: WebLogger;
}

export interface WebServer {
  /** `http://host:port` as it listens (the port chosen when 0 was asked). */
  readonly url: string;
  /** Without tokens: the role every request has. */
  readonly summary: { tokens: number; readOnly: boolean; anonymousRole: string | null };
  close(): Promise<void>;
}

export async function startWebServer(config: ResolvedConfig, settings: Settings, options: WebServerOptions): Promise<WebServer> {
  // The policy first: a server that may not start must say so before it connects anywhere.
  const policy = accessPolicy(tokensFromEnv(options.env), options);
  const ctx = await openWebContext(config, settings, policy, options.logger);
  try {
    const app = await buildApp(ctx);
    try {
      await app.listen({ port: options.port, host: options.host });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw err;
      throw new RuntimeError('E_LISTEN', `tq web cannot listen on ${options.host}:${options.port}: ${errorMessage(err)}`, {
        hint: code === 'EADDRINUSE' ? 'another process has that port: pick another with --port' : 'check --host and --port',
        cause: err,
      });
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    return {
      url: `http://${host}:${port}`,
      summary: { tokens: policy.tokens.size, readOnly: policy.readOnly, anonymousRole: policy.tokens.size ? null : policy.anonymousRole },
      async close() {
        await app.close();
        await ctx.close();
      },
    };
  } catch (err) {
    await ctx.close();
    throw err;
  }
}
