import type { RunEvent, RunSnapshot } from '../core/run-events.js';
import { indexQueuedRuns } from './search-schema.js';
import type { SqliteDatabase } from './database.js';
import type { TaskRunsRepository } from './task-runs.js';

/**
 * History repair. Run events travel from a process to the stream in small batches; a process
 * killed between a run's end and its next write takes that end with it, and the row would stay
 * `active` (or `waiting`) for good while Redis says `completed`. Once Redis trims the job, the
 * row is the only record and it is wrong. So the recorder that holds the lease asks Redis, now
 * and then, about rows that have not moved for a while: a run Redis says has ended gets that end
 * applied like any event (the usual rules: a state never moves backwards); a run Redis no longer
 * has at all is marked `lost`, with the reason, instead of waiting forever.
 *
 * Cost: one HMGET per row checked, at most `limit` rows per pass, each row at most once per
 * `recheckMs` (a long backlog of waiting runs is not read again and again).
 */
export interface ReconcileOptions {
  /** Rows whose last change is older than this are checked (ms). */
  staleMs: number;
  /** A row checked and found still pending is checked again after this long (ms). */
  recheckMs: number;
  /** Rows per pass. */
  limit: number;
  now?: number;
}

export interface ReconcileReport {
  checked: number;
  /** Rows that got the end Redis knows. */
  repaired: number;
  /** Rows marked `lost`. */
  lost: number;
}

/** `since`: when history last saw the run move (epoch ms), where to look for its end. */
export type RunLookup = (runs: readonly { id: string; queue: string; since?: number }[]) => Promise<Map<string, RunSnapshot>>;

const OPEN_STATES = `('waiting', 'delayed', 'active', 'retrying')`;

interface Candidate {
  job_id: string;
  task: string;
  queue: string;
  state: string;
  attempt: number;
  updated_at: string;
}

export async function reconcileRuns(
  db: SqliteDatabase,
  runs: TaskRunsRepository,
  lookup: RunLookup,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const now = options.now ?? Date.now();
  // Only this recorder's prefix: another prefix's runs are not in the Redis it asks.
  const own = runs.prefix === undefined ? '' : ' AND prefix = ?';
  const ownParams = runs.prefix === undefined ? [] : [runs.prefix];
  const candidates = db
    .prepare(
      `SELECT job_id, task, queue, state, attempt, updated_at FROM task_runs
       WHERE state IN ${OPEN_STATES} AND updated_at < ? AND (checked_at IS NULL OR checked_at < ?)${own}
       ORDER BY checked_at IS NOT NULL, checked_at LIMIT ?`,
    )
    .all(new Date(now - options.staleMs).toISOString(), now - options.recheckMs, ...ownParams, options.limit) as Candidate[];
  if (candidates.length === 0) return { checked: 0, repaired: 0, lost: 0 };
  // Redis is asked outside any transaction: the file stays free while the answer travels.
  const found = await lookup(candidates.map((c) => ({ id: c.job_id, queue: c.queue, since: Date.parse(c.updated_at) })));
  const ends: RunEvent[] = [];
  const lost: Candidate[] = [];
  for (const row of candidates) {
    const snap = found.get(row.job_id);
    if (!snap || snap.state === 'pending') continue;
    if (snap.state === 'missing') {
      lost.push(row);
      continue;
    }
    ends.push({
      type: snap.state,
      jobId: row.job_id,
      task: row.task,
      queue: row.queue,
      at: snap.at,
      attempt: Math.max(snap.attempt, row.attempt),
      ...(snap.result !== undefined ? { result: snap.result } : {}),
      ...(snap.error !== undefined ? { error: snap.error } : {}),
      ...(snap.startedAt !== undefined ? { startedAt: snap.startedAt, runtimeMs: Math.max(0, snap.at - snap.startedAt) } : {}),
    });
  }
  const markLost = db.prepare(
    `UPDATE task_runs SET state = 'lost', error = ?, updated_at = ?, finished_at = COALESCE(finished_at, ?)
     WHERE job_id = ? AND state IN ${OPEN_STATES}${own}`,
  );
  const markChecked = db.prepare(`UPDATE task_runs SET checked_at = ? WHERE job_id = ?${own}`);
  let lostCount = 0;
  db.transaction(() => {
    if (ends.length > 0) runs.apply(ends);
    const at = new Date(now).toISOString();
    for (const row of lost) {
      const reason =
        `lost: Redis no longer has this run, and history never saw it end (last seen ${row.state}, attempt ${row.attempt}); ` +
        'it was removed by another client, evicted (maxmemory), trimmed after its end was not recorded, or Redis lost data';
      lostCount += markLost.run(reason, at, at, row.job_id, ...ownParams).changes;
    }
    for (const row of candidates) markChecked.run(now, row.job_id, ...ownParams);
    indexQueuedRuns(db);
  }).immediate();
  // Rows changed behind the repository's back: what it remembers of them is stale.
  if (lostCount > 0) runs.forget();
  return { checked: candidates.length, repaired: ends.length, lost: lostCount };
}
