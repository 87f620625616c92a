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

/** One error of the request schema's validator (the fields tq reads). */
export interface ValidationIssue {
  instancePath: string;
  keyword: string;
  params?: Record<string, unknown>;
  message?: string;
}

/**
 * One line for a request the schema refuses: each field once, and a field that takes one of
 * several constants (`sort`, `order`, `state`) names them (`querystring/sort must be one of:
 * enqueued, finished, runtime`) instead of "must be equal to constant" once per constant.
 */
export function validationMessage(context: string | undefined, issues: readonly ValidationIssue[]): string {
  const byPath = new Map<string, ValidationIssue[]>();
  for (const issue of issues) {
    const path = `${context ?? ''}${issue.instancePath}`;
    byPath.set(path, [...(byPath.get(path) ?? []), issue]);
  }
  const parts: string[] = [];
  for (const [path, list] of byPath) {
    const allowed = list.filter((i) => i.keyword === 'const').map((i) => String(i.params?.allowedValue));
    if (allowed.length > 0 && list.every((i) => i.keyword === 'const' || i.keyword === 'anyOf')) {
      parts.push(`${path} must be one of: ${allowed.join(', ')}`);
      continue;
    }
    for (const message of new Set(list.map((i) => i.message ?? i.keyword))) parts.push(`${path} ${message}`);
  }
  return parts.join('; ');
}
