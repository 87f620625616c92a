import type { ResolvedTask } from '../config/resolved.js';

/** The BullMQ backoff type tq uses for its own tasks (computed by `backoffDelay`). */
export const TQ_BACKOFF = 'tq';

/**
 * Delay before the next attempt after `attemptsMade` failed ones: `fixed` waits `delay` each
 * time, `exponential` waits `delay * 2^(attemptsMade-1)`, both capped by `maxDelay`; `jitter`
 * (0..1) randomises that share of the delay downwards so retries of many runs spread out.
 */
export function backoffDelay(backoff: NonNullable<ResolvedTask['backoff']>, attemptsMade: number, random = Math.random): number {
  const n = Math.max(1, attemptsMade);
  let delay = backoff.type === 'exponential' ? backoff.delay * 2 ** (n - 1) : backoff.delay;
  if (backoff.maxDelay !== undefined) delay = Math.min(delay, backoff.maxDelay);
  if (backoff.jitter) delay = delay * (1 - backoff.jitter * random());
  return Math.max(0, Math.round(delay));
}
