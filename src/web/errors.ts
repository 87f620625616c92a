/**
 * Errors as the API answers them: `{ "error": { "code", "message", "hint" } }` (the CLI's
 * `--json` error document), with an HTTP status from the error's class: a request the schema
 * refuses is 400, a value tq refuses (bad payload, bad query) 422, something that is not there
 * 404, an action the run's state does not allow 409, Redis unreachable 503.
 */
import { RedisUnavailableError, StoreError, TqError, errorMessage } from '../core/errors.js';

export interface ErrorDocument {
  error: { code: string; message: string; hint: string | null };
}

/** An HTTP-only refusal (401, 403): not a TqError, since no CLI command meets it. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint: string | null = null,
  ) {
    super(message);
  }
}

const NOT_FOUND = new Set(['E_NO_RUN', 'E_NO_QUEUE', 'E_NO_WORKER', 'E_NO_TASK']);

export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof RedisUnavailableError) return 503;
  if (err instanceof StoreError) return 500;
  if (err instanceof TqError) {
    if (NOT_FOUND.has(err.code)) return 404;
    if (err.code === 'E_REDIS') return 503;
    return err.exitCode === 2 ? 422 : 409;
  }
  return 500;
}

export function errorDocument(err: unknown): ErrorDocument {
  if (err instanceof HttpError || err instanceof TqError)
    return { error: { code: err.code, message: err.message, hint: err.hint ?? null } };
  return { error: { code: 'E_INTERNAL', message: errorMessage(err), hint: 'see the tq web log for the stack' } };
}
