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
  const missing = runs.filter((r) => found.get(r.id)?.state === 'missing');
  if (missing.length > 0) await endsFromQueueEvents(redis, prefix, missing, found);
  return found;
}

/** Entries of a queue's event stream read at most per lookup (BullMQ keeps about 10,000). */
const EVENTS_READ = 20_000;

/**
 * A run gone from Redis (trimmed by `removeOnComplete`/`removeOnFail`, or removed) may still have
 * its end in BullMQ's own event stream of its queue, which BullMQ's scripts write in the same
 * step as the state change: read it from a little before the run was last seen.
 */
async function endsFromQueueEvents(
  redis: Redis,
  prefix: string,
  runs: readonly { id: string; queue: string; since?: number }[],
  found: Map<string, RunSnapshot>,
): Promise<void> {
  const byQueue = new Map<string, { ids: Set<string>; since: number }>();
  for (const run of runs) {
    const entry = byQueue.get(run.queue) ?? { ids: new Set<string>(), since: Number.MAX_SAFE_INTEGER };
    entry.ids.add(run.id);
    entry.since = Math.min(entry.since, Math.max(0, (run.since ?? 0) - 60_000));
    byQueue.set(run.queue, entry);
  }
  for (const [queue, { ids, since }] of byQueue) {
    const entries = await redis.xrange(`${prefix}:${queue}:events`, String(since), '+', 'COUNT', EVENTS_READ);
    for (const [entryId, fields] of entries) {
      const field = (name: string) => {
        const i = fields.indexOf(name);
        return i >= 0 && i % 2 === 0 ? fields[i + 1] : undefined;
      };
      const event = field('event');
      const jobId = field('jobId');
      if ((event !== 'completed' && event !== 'failed') || jobId === undefined || !ids.has(jobId)) continue;
      const at = Number(entryId.split('-')[0]);
      if (event === 'completed') {
        const value = field('returnvalue');
        found.set(jobId, { state: 'completed', at, attempt: 1, ...(value !== undefined ? { result: parseJson(value) } : {}) });
      } else {
        const error = field('failedReason') ?? 'failed (no reason stored)';
        found.set(jobId, { state: failureState(error), at, attempt: 1, error });
      }
    }
  }
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
