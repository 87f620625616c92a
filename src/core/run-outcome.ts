/**
 * How a run ends, stated once for every executor (a worker, the inline client, an isolated
 * child): which errors are final and which are worth another attempt, the reason texts of the
 * ends tq decides itself (time limit, cancel, expiry), and the state a failure reason stands for.
 * Workers, inspect and history all read the state back from the reason's prefix.
 */
import { formatDuration } from './duration.js';
import { errorMessage, readableError } from './errors.js';

export const TIME_LIMIT = 'TimeLimitExceeded';
export const CANCELLED = 'Cancelled';
export const EXPIRED = 'Expired';

/** Why a run ended without its handler deciding. */
export type EndReason = typeof TIME_LIMIT | typeof CANCELLED | typeof EXPIRED;

/** The failure reason stored for an end tq decided: `<EndReason>: <detail>`. */
export function reasonMessage(reason: EndReason, detail: string): string {
  return `${reason}: ${detail}`;
}

/** `TimeLimitExceeded: run exceeded its 2m 0s time limit`. */
export function timeLimitReason(timeLimitMs: number): string {
  return reasonMessage(TIME_LIMIT, `run exceeded its ${formatDuration(timeLimitMs)} time limit`);
}

/** `Cancelled: <why>` (the default detail is what `tq control cancel` sends). */
export function cancelReason(detail = 'cancelled by user'): string {
  return reasonMessage(CANCELLED, detail);
}

/** `Expired: not started before it expired at <ISO> (<late> late)`. */
export function expiryReason(expiresAt: number, now: number): string {
  const lateBy = formatDuration(now - expiresAt);
  return reasonMessage(EXPIRED, `not started before it expired at ${new Date(expiresAt).toISOString()} (${lateBy} late)`);
}

/** The tq state a failure reason stands for. */
export function failureState(message: string | undefined): 'failed' | 'cancelled' | 'expired' {
  if (message?.startsWith(`${CANCELLED}:`)) return 'cancelled';
  if (message?.startsWith(`${EXPIRED}:`)) return 'expired';
  return 'failed';
}

/** An abort reason carrying the end reason (what `ctx.signal.reason` is). */
export class RunAborted extends Error {
  constructor(
    readonly reason: EndReason | 'Shutdown',
    message: string,
  ) {
    super(message);
    this.name = reason === 'Shutdown' ? 'WorkerShutdown' : reason;
  }
}

/**
 * Error names that fail a run at once whatever its attempts: the handler's own verdict
 * (`FatalTaskError`), BullMQ's (`UnrecoverableError`), and bad input (`UsageError`: the same
 * payload will be just as wrong next time). Matched by name, so an error that crossed a process
 * boundary (an isolated child) still counts.
 */
const FINAL_ERRORS: ReadonlySet<string> = new Set(['FatalTaskError', 'UnrecoverableError', 'UsageError']);

/** What a failed attempt means for its run. */
export interface FailureVerdict {
  /** No further attempt, whatever the run's attempts allow. */
  final: boolean;
  /** The error as an Error (a thrown non-Error is wrapped), message and stack kept. */
  error: Error;
}

/**
 * Whether an error thrown by a handler ends its run now: a run that was aborted (time limit,
 * cancel) or failed with a final error never retries; otherwise the task's `retryOn` decides.
 * A `retryOn` that throws counts as "do not retry" and `warn` gets a line naming the task.
 */
export function judgeFailure(
  err: unknown,
  task: { name: string; retryOn?: ((err: unknown) => boolean) | undefined },
  warn: (line: string) => void,
): FailureVerdict {
  const error = readableError(err);
  if (err instanceof RunAborted || FINAL_ERRORS.has(error.name)) return { final: true, error };
  if (!task.retryOn) return { final: false, error };
  try {
    return { final: !task.retryOn(error), error };
  } catch (retryErr) {
    warn(`${task.name}: retryOn threw (${errorMessage(retryErr)}); not retrying`);
    return { final: true, error };
  }
}
