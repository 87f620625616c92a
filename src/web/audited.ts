/** The audit of actions (one row each, see store/audit.ts) and the app's type, for every route file. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorMessage } from '../core/errors.js';
import type { WebContext } from './context.js';
import { errorDocument } from './errors.js';

export type WebApp = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** Writes one audit row for the request's caller. */
export function audit(
  ctx: WebContext,
  request: FastifyRequest,
  entry: { action: string; result: string; target?: string | null; query?: string | null; detail?: unknown },
): void {
  const who = request.principal ?? { name: 'unknown', role: 'viewer' };
  try {
    ctx.audit.record({ who: who.name, role: who.role, ...entry });
  } catch (err) {
    // An action that happened must not be answered as failed because its audit row was not written.
    ctx.logger.error(`audit: could not record ${entry.action} by ${who.name}: ${errorMessage(err)}`);
  }
}

/**
 * Runs an action and audits it: `ok`, or the error code it failed with (the error still
 * answers the request).
 */
export async function audited<T>(
  ctx: WebContext,
  request: FastifyRequest,
  entry: { action: string; target?: string | null; query?: string | null },
  fn: () => Promise<T>,
  detail?: (value: T) => unknown,
): Promise<T> {
  try {
    const value = await fn();
    audit(ctx, request, { ...entry, result: 'ok', ...(detail ? { detail: detail(value) } : {}) });
    return value;
  } catch (err) {
    audit(ctx, request, { ...entry, result: errorDocument(err).error.code, detail: { message: errorMessage(err) } });
    throw err;
  }
}
