import type { RunSnapshot } from '../core/run-events.js';
import type { Redis } from './connection.js';
import { failureState } from '../core/run-outcome.js';

/**
 * What Redis knows of runs, read straight from BullMQ's job hashes in one pipeline (one HMGET
 * per run, no scripts, no scans): used to repair history rows whose last events were lost (a
 * process killed before it wrote them) and to mark rows whose runs Redis no longer has.
 *
 * BullMQ sets `finishedOn` when a run ends for good; a completed run has a `returnvalue` (an
 * attempt that failed before a later one succeeded leaves its `failedReason` behind, so the
 * return value decides), a failed one has none. Anything not finished is still pending in
 * Redis (waiting, delayed, active, retrying): its history row is left to the events.
 */
// `ats`: attempts started (BullMQ counts every start, stall recoveries included): the number
// history calls `attempt`.
const FIELDS = ['finishedOn', 'returnvalue', 'failedReason', 'ats', 'processedOn', 'name', 'timestamp'] as const;

export async function lookupRuns(
  redis: Redis,
  prefix: string,
  runs: readonly { id: string; queue: string }[],
): Promise<Map<string, RunSnapshot>> {
  const found = new Map<string, RunSnapshot>();
  if (runs.length === 0) return found;
  const pipe = redis.pipeline();
  for (const run of runs) pipe.hmget(`${prefix}:${run.queue}:${run.id}`, ...FIELDS);
  const replies = (await pipe.exec()) ?? [];
  replies.forEach(([err, value], i) => {
    const run = runs[i]!;
    if (err) throw err;
    const fields = value as (string | null)[];
    const [finishedOn, returnvalue, failedReason, attemptsStarted, processedOn, name, timestamp] = FIELDS.map((_, f) => fields[f] ?? null);
    if (name === null && timestamp === null) {
      found.set(run.id, { state: 'missing' });
      return;
    }
    const attempt = Math.max(1, Number(attemptsStarted ?? 0));
    if (finishedOn === null) {
      found.set(run.id, { state: 'pending' });
      return;
    }
    const at = Number(finishedOn);
    const startedAt = processedOn === null ? undefined : Number(processedOn);
    if (returnvalue !== null && returnvalue !== undefined) {
      found.set(run.id, {
        state: 'completed',
        at,
        attempt,
        result: parseJson(returnvalue),
        ...(startedAt !== undefined ? { startedAt } : {}),
      });
    } else {
      const error = failedReason ?? 'failed (no reason stored)';
      found.set(run.id, { state: failureState(error), at, attempt, error, ...(startedAt !== undefined ? { startedAt } : {}) });
    }
  });
  return found;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // A plain BullMQ worker may return a value BullMQ stored as text that is not JSON.
    if (err instanceof SyntaxError) return text;
    throw err;
  }
}
