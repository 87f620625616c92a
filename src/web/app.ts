/**
 * The Fastify application of `tq web`: schema-validated routes (TypeBox) whose schemas also make
 * the OpenAPI document (`/api/openapi.json`, by @fastify/swagger), the access check on every
 * request, and errors as `{ "error": { "code", "message", "hint" } }`.
 */
import Fastify, { type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorMessage, TqError } from '../core/errors.js';
import { TQ_VERSION } from '../runtime/version.js';
import { allows, authenticate, type Principal, type Role } from './auth.js';
import type { WebContext } from './context.js';
import { errorDocument, HttpError, statusOf, validationMessage, type ValidationIssue } from './errors.js';
import { audit, type WebApp } from './audited.js';
import { registerReadRoutes } from './routes-read.js';
import { registerActionRoutes } from './routes-actions.js';
import { registerBulkRoutes } from './routes-bulk.js';
import { registerEventRoutes } from './routes-events.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The least role a route needs; absent: open (health checks, the OpenAPI document). */
    role?: Role;
    /** The audit name of an action route (read-only servers refuse these). */
    action?: string;
  }
}

export async function buildApp(ctx: WebContext): Promise<WebApp> {
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    bodyLimit: ctx.config.payloadLimit + 64 * 1024,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // Response schemas document the shapes; the bodies are the CLI's documents as they are.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.decorateRequest('principal', null);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'tq web', version: TQ_VERSION, description: 'REST API of tq: runs, queues, workers, schedules, actions.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onRequest', async (request) => checkAccess(ctx, request));

  app.setErrorHandler((err: unknown, request, reply) => {
    const { validation, validationContext } = err as { validation?: ValidationIssue[]; validationContext?: string };
    if (validation) {
      const message = Array.isArray(validation) ? validationMessage(validationContext, validation) : errorMessage(err);
      return reply.status(400).send({ error: { code: 'E_BAD_REQUEST', message, hint: 'see /api/openapi.json for this route' } });
    }
    // A library's own error while Redis is away (ioredis refusing a command while it reconnects)
    // is Redis being unreachable, not a bug: 503 with what to do.
    if (!(err instanceof TqError || err instanceof HttpError) && !ctx.redisUp()) {
      return reply.status(503).send({
        error: {
          code: 'E_REDIS',
          message: `Redis is unreachable (${errorMessage(err)})`,
          hint: 'tq web reconnects by itself: try again once Redis is back; /readyz says when',
        },
      });
    }
    const status = statusOf(err);
    const fastifyStatus = (err as { statusCode?: number }).statusCode;
    if (status === 500 && fastifyStatus && fastifyStatus < 500) {
      return reply.status(fastifyStatus).send({ error: { code: 'E_BAD_REQUEST', message: errorMessage(err), hint: null } });
    }
    if (status >= 500) ctx.logger.error(`${request.method} ${request.url.split('?')[0]}: ${(err as Error).stack ?? errorMessage(err)}`);
    return reply.status(status).send(errorDocument(err));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: { code: 'E_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}`, hint: 'see /api/openapi.json' },
    }),
  );

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = await ctx.ready();
    return reply.status(ready.redis && ready.sqlite ? 200 : 503).send(ready);
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/metrics', { schema: { hide: true }, config: { role: 'viewer' } }, async (_request, reply) => {
    const text = await ctx.metrics.text();
    return reply
      .type(ctx.metrics.contentType)
      .serializer((s: string) => s)
      .send(text);
  });

  registerReadRoutes(app, ctx);
  registerActionRoutes(app, ctx);
  registerBulkRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  return app;
}

/** Authenticates, then refuses what the caller's role (or a read-only server) does not allow. */
async function checkAccess(ctx: WebContext, request: FastifyRequest): Promise<void> {
  const needed = request.routeOptions.config?.role;
  if (needed === undefined) return;
  const auth = authenticate(ctx.policy, request.headers.authorization);
  if (!auth.ok) throw new HttpError(401, 'E_UNAUTHORIZED', auth.reason, 'ask an admin of this server for a token');
  request.principal = auth.principal;
  const action = request.routeOptions.config?.action;
  const refuse = (code: string, message: string, hint: string) => {
    if (action) audit(ctx, request, { action, result: code });
    return new HttpError(403, code, message, hint);
  };
  if (action && ctx.policy.readOnly)
    throw refuse('E_READ_ONLY', `this server is read-only (--read-only): ${action} is refused`, 'start tq web without --read-only');
  if (!allows(auth.principal.role, needed)) {
    const hint =
      ctx.policy.tokens.size === 0
        ? 'this server has no tokens and is read-only: restart it with --allow-actions, or configure TQ_WEB_TOKENS'
        : `use a token with role ${needed}${needed === 'admin' ? '' : ' or admin'}`;
    throw refuse(
      'E_FORBIDDEN',
      `${request.method} ${request.routeOptions.url} needs role ${needed}; ${auth.principal.name} is ${auth.principal.role}`,
      hint,
    );
  }
}
