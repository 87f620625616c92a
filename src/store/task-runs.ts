import { ATTEMPT_END_TYPES, type RunEvent } from '../core/run-events.js';
import { FINAL_STATES, supersedes, type TaskState } from '../core/states.js';
import { redact } from '../core/json.js';
import type { SqliteDatabase } from './database.js';
import { placeObserved, type PlacedEvent } from './observed.js';
import { createImageProjection } from './image-projection.js';
import { indexQueuedRuns } from './search-schema.js';

/** A `task_runs` row as stored (JSON columns are text). */
export interface TaskRunRow {
  job_id: string;
  task: string;
  queue: string;
  payload: string | null;
  state: TaskState;
  result: string | null;
  error: string | null;
  attempt: number;
  worker: string | null;
  enqueued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  runtime_ms: number | null;
  /** JSON array of `{ attempt, error, at }`: every attempt's error. */
  errors: string | null;
  stack: string | null;
  due_at: string | null;
  progress: string | null;
  /** JSON array of the lines the run logged (the last MAX_LOG_LINES). */
  logs: string | null;
  /**
   * When the run last moved (epoch ms, the event's time on Redis's clock): where BullMQ's own
   * events of the run are placed from (older ones are old news).
   */
  moved_at: number | null;
  updated_at: string;
  /** The key prefix whose run this is (several prefixes may share one file). */
  prefix: string;
}

/** Log lines kept per run in history (the newest). */
export const MAX_LOG_LINES = 200;

export interface AttemptError {
  attempt: number;
  error: string;
  at: string;
}

export interface ApplyOptions {
  redactKeys?: readonly string[];
}

/** The last time formatted: a busy batch has many events in the same millisecond. */
let isoMs = Number.NaN;
let isoText = '';
const iso = (ms: number | undefined): string | null => {
  if (ms === undefined) return null;
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
};
const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));

function stateOf(event: RunEvent): TaskState | undefined {
  if (event.type === 'progress' || event.type === 'log') return undefined;
  if (event.type === 'enqueued') return event.dueAt !== undefined && event.dueAt > event.at ? 'delayed' : 'waiting';
  if (event.type === 'requeued' || event.type === 'retried') return 'waiting';
  return event.type;
}

export interface TaskRunsRepository {
  /** The prefix this repository writes rows for and reads rows of (undefined: reads every prefix's). */
  readonly prefix: string | undefined;
  /**
   * Applies events idempotently: a row per job id, fields filled as they become known, and the
   * state never moving backwards (see `supersedes`). Call inside a transaction for batches.
   */
  apply(events: readonly RunEvent[], options?: ApplyOptions): number;
  get(jobId: string): TaskRunRow | undefined;
  count(filter?: { state?: TaskState; task?: string }): number;
  /**
   * Deletes finished runs that finished before `isoTime`, oldest first, at most `limit` of them
   * (all when absent); returns how many. See `pruneInChunks` for keeping each write short.
   */
  pruneFinishedBefore(isoTime: string, limit?: number): number;
  /**
   * Forgets the rows `apply` remembers. Call it whenever another writer may have changed the
   * table since this repository last wrote it (a recorder that (re)gains the lease).
   */
  forget(): void;
}

export interface TaskRunsRepositoryOptions {
  /**
   * How many recently written rows `apply` remembers, so the next event of a run (its end,
   * usually) needs no read of the row first. Only for the single writer of the file (the
   * recorder holding the lease), which must call `forget()` when it may not have been. 0: none.
   */
  rememberRows?: number;
  /**
   * The key prefix whose runs this repository writes (default `tq`) and reads (default: every
   * prefix's). A run id another prefix already has in this file is not written over: see `onCollision`.
   */
  prefix?: string;
  /** Events of a run whose id is another prefix's row in this file (skipped, never written over). */
  onCollision?: (jobId: string, otherPrefix: string) => void;
}

/** The prefix rows are written with when none is given (the default key prefix). */
const DEFAULT_ROW_PREFIX = 'tq';

/** The columns a row is written with besides `job_id` (the statements are made from this list). */
const WRITTEN_COLUMNS = [
  'task',
  'queue',
  'payload',
  'state',
  'result',
  'error',
  'attempt',
  'worker',
  'enqueued_at',
  'started_at',
  'finished_at',
  'runtime_ms',
  'errors',
  'stack',
  'due_at',
  'progress',
  'logs',
  'moved_at',
  'updated_at',
  'prefix',
] as const satisfies readonly (keyof TaskRunRow)[];

export function createTaskRunsRepository(db: SqliteDatabase, repoOptions: TaskRunsRepositoryOptions = {}): TaskRunsRepository {
  const rememberRows = repoOptions.rememberRows ?? 0;
  const readPrefix = repoOptions.prefix;
  const writePrefix = repoOptions.prefix ?? DEFAULT_ROW_PREFIX;
  /** Rows as stored, most recently written last (see `rememberRows`). */
  const remembered = new Map<string, TaskRunRow>();
  const remember = (row: TaskRunRow): void => {
    if (rememberRows === 0) return;
    remembered.delete(row.job_id);
    remembered.set(row.job_id, row);
    if (remembered.size > rememberRows) remembered.delete(remembered.keys().next().value!);
  };
  const getStmt = db.prepare('SELECT * FROM task_runs WHERE job_id = ?');
  const getOwnStmt = readPrefix === undefined ? getStmt : db.prepare('SELECT * FROM task_runs WHERE job_id = ? AND prefix = ?');
  const ownArgs = (jobId: string): unknown[] => (readPrefix === undefined ? [jobId] : [jobId, readPrefix]);
  // Image records follow their runs (see image-projection.ts), in the same transaction.
  const images = createImageProjection(db, writePrefix);
  // One row, every column: the base of the upsert and of the insert of a new run below.
  const insertRow = `INSERT INTO task_runs (job_id, ${WRITTEN_COLUMNS.join(', ')})
    VALUES (@job_id, ${WRITTEN_COLUMNS.map((c) => `@${c}`).join(', ')})`;
  const upsertStmt = db.prepare(
    `${insertRow} ON CONFLICT(job_id) DO UPDATE SET ${WRITTEN_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}
      WHERE task_runs.prefix = excluded.prefix`,
  );
  // A run's first event is nearly always `enqueued` and its row new: insert it without looking
  // first (one statement instead of two); `changes === 0` says the row was there after all.
  const insertNewStmt = db.prepare(`${insertRow} ON CONFLICT(job_id) DO NOTHING`);
  // A row already stored gets an UPDATE of just the columns that changed: every index on a
  // column in the SET list is rewritten, so a full upsert costs several index writes for nothing.
  const updateStmts = new Map<string, ReturnType<SqliteDatabase['prepare']>>();
  const update = (before: TaskRunRow, row: TaskRunRow): void => {
    const changed = WRITTEN_COLUMNS.filter((c) => row[c] !== before[c]);
    if (changed.length === 0) return;
    const key = changed.join(',');
    let stmt = updateStmts.get(key);
    if (!stmt) {
      stmt = db.prepare(`UPDATE task_runs SET ${changed.map((c) => `${c} = @${c}`).join(', ')} WHERE job_id = @job_id`);
      if (updateStmts.size < 200) updateStmts.set(key, stmt);
    }
    stmt.run(row);
  };
  const prunable = `finished_at IS NOT NULL AND finished_at < ? AND state IN (${[...FINAL_STATES, 'lost'].map((s) => `'${s}'`).join(',')}) AND prefix = ?`;
  const pruneStmt = db.prepare(`DELETE FROM task_runs WHERE ${prunable}`);
  // The oldest first, through the finished_at index: each chunk reads only what it deletes.
  const pruneChunkStmt = db.prepare(
    `DELETE FROM task_runs WHERE rowid IN (SELECT rowid FROM task_runs WHERE ${prunable} ORDER BY finished_at LIMIT ?)`,
  );
  /** Job ids found to be another prefix's in this batch (their events are skipped). */
  const foreign = (row: TaskRunRow | undefined): boolean => {
    if (row === undefined || row.prefix === writePrefix) return false;
    repoOptions.onCollision?.(row.job_id, row.prefix);
    return true;
  };

  return {
    prefix: readPrefix,
    apply(events, options = {}) {
      const now = new Date().toISOString();
      const pending = new Map<string, TaskRunRow>();
      const stored = new Map<string, TaskRunRow | undefined>();
      const skipped = new Set<string>();
      const inserted = new Set<string>();
      for (const raw of events) {
        if (skipped.has(raw.jobId)) continue;
        let row = pending.get(raw.jobId);
        let placed: PlacedEvent | undefined;
        if (raw.observed) {
          // Seen in BullMQ's stream: placed against what history knows of the run (see observed.ts).
          if (row === undefined) {
            if (!stored.has(raw.jobId)) {
              const found = remembered.get(raw.jobId) ?? (getStmt.get(raw.jobId) as TaskRunRow | undefined);
              if (foreign(found)) {
                skipped.add(raw.jobId);
                continue;
              }
              stored.set(raw.jobId, found);
            }
            row = stored.get(raw.jobId);
          }
          placed = placeObserved(row, raw);
          if (!placed) continue;
        }
        const event = placed?.event ?? raw;
        if (row === undefined && !stored.has(event.jobId)) {
          if (event.type === 'enqueued') {
            const fresh = merge(undefined, event, options, writePrefix);
            fresh.updated_at = now;
            if (insertNewStmt.run(fresh).changes === 1) {
              inserted.add(event.jobId);
              // Stored as it is now: later events of this batch update it.
              stored.set(event.jobId, fresh);
              pending.set(event.jobId, fresh);
              continue;
            }
          }
          row = remembered.get(event.jobId) ?? (getStmt.get(event.jobId) as TaskRunRow | undefined);
          if (foreign(row)) {
            skipped.add(event.jobId);
            stored.set(event.jobId, undefined);
            continue;
          }
          stored.set(event.jobId, row);
        }
        if (skipped.has(event.jobId)) continue;
        const merged = merge(row, event, options, writePrefix, placed);
        merged.updated_at = now;
        pending.set(event.jobId, merged);
      }
      for (const [jobId, row] of pending) {
        const before = stored.get(jobId);
        if (before) update(before, row);
        else upsertStmt.run(row);
        remember(row);
        const moved =
          inserted.has(jobId) ||
          !before ||
          before.state !== row.state ||
          before.attempt !== row.attempt ||
          before.finished_at !== row.finished_at;
        images.apply(row, moved);
      }
      // The search index takes the batch's text in one statement, in the caller's transaction.
      indexQueuedRuns(db);
      return pending.size;
    },
    get(jobId) {
      return getOwnStmt.get(...ownArgs(jobId)) as TaskRunRow | undefined;
    },
    count(filter = {}) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (readPrefix !== undefined) {
        where.push('prefix = ?');
        params.push(readPrefix);
      }
      if (filter.state) {
        where.push('state = ?');
        params.push(filter.state);
      }
      if (filter.task) {
        where.push('task = ?');
        params.push(filter.task);
      }
      const sql = `SELECT count(*) AS n FROM task_runs${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
      return (db.prepare(sql).get(...params) as { n: number }).n;
    },
    pruneFinishedBefore(isoTime, limit) {
      remembered.clear();
      return (limit === undefined ? pruneStmt.run(isoTime, writePrefix) : pruneChunkStmt.run(isoTime, writePrefix, limit)).changes;
    },
    forget() {
      remembered.clear();
    },
  };
}

/**
 * What one event does to a run's row (`row` undefined: the run is new). Three kinds of rule, in
 * this order: lines (progress, log) that never change the state; facts that fill in whatever
 * order they arrive in; and the state move, taken only when the event supersedes what is known.
 */
function merge(row: TaskRunRow | undefined, event: RunEvent, options: ApplyOptions, prefix: string, placed?: PlacedEvent): TaskRunRow {
  const observed = placed?.force ?? stateOf(event);
  // A progress or log line for a run not seen yet: it is running.
  const state = observed ?? 'active';
  const next: TaskRunRow = row ? { ...row } : newRow(event, state, prefix);
  if (observed === undefined) return applyLine(next, event);
  fillFacts(next, row, event, state, options);
  if (placed?.force) {
    if (placed.reopen) startOver(next, true);
    return moveTo(next, row, event, state, false);
  }
  const reopened = isReopenedByLaterAttempt(row, event);
  if (reopened) startOver(next, true);
  const handedBack = isHandBack(row, event);
  if (row && !handedBack && !reopened && !supersedes({ state: row.state, attempt: row.attempt }, { state, attempt: event.attempt }))
    return next;
  return moveTo(next, row, event, state, handedBack);
}

/**
 * A finished run that tq's own worker reports starting or ending a later attempt was retried
 * by something that did not tell tq's stream (bull-board, a plain BullMQ client): BullMQ counts
 * on from the earlier attempts, so only a retry can bring a later attempt after an end. The row
 * reopens as that attempt; the earlier attempts' errors stay.
 */
function isReopenedByLaterAttempt(row: TaskRunRow | undefined, event: RunEvent): boolean {
  if (!row || !FINAL_STATES.has(row.state) || event.observed) return false;
  // A run that ended before it started (attempt 0: expired, cancelled while waiting) still took
  // BullMQ's first attempt: only a second one is a retry.
  return (event.type === 'active' || ATTEMPT_END_TYPES.has(event.type)) && event.attempt > Math.max(row.attempt, 1);
}

function newRow(event: RunEvent, state: TaskState, prefix: string): TaskRunRow {
  return {
    job_id: event.jobId,
    task: event.task,
    queue: event.queue,
    payload: null,
    state,
    result: null,
    error: null,
    attempt: event.attempt,
    worker: null,
    enqueued_at: null,
    started_at: null,
    finished_at: null,
    runtime_ms: null,
    errors: null,
    stack: null,
    due_at: null,
    progress: null,
    logs: null,
    moved_at: null,
    updated_at: '',
    prefix,
  };
}

/** A progress value (ignored once the run is final) or a log line (the newest MAX_LOG_LINES kept). */
function applyLine(next: TaskRunRow, event: RunEvent): TaskRunRow {
  if (event.type === 'progress' && event.progress !== undefined && !FINAL_STATES.has(next.state)) next.progress = json(event.progress);
  if (event.type === 'log' && event.log !== undefined) {
    const lines = next.logs ? (JSON.parse(next.logs) as string[]) : [];
    lines.push(event.log);
    next.logs = JSON.stringify(lines.slice(-MAX_LOG_LINES));
  }
  return next;
}

/** Facts that do not depend on ordering: they fill in whenever they arrive. */
function fillFacts(next: TaskRunRow, row: TaskRunRow | undefined, event: RunEvent, state: TaskState, options: ApplyOptions): void {
  // The end of an attempt history already has (BullMQ's stream told it first): tq's own event
  // of it still says who ran it and for how long.
  // Its times are tq's then, on every host, whichever of the two events a host applied first.
  if (row && !event.observed && row.state === state && row.attempt === event.attempt && FINAL_STATES.has(state)) {
    if (event.worker !== undefined && next.worker === null) next.worker = event.worker;
    if (event.runtimeMs !== undefined && next.runtime_ms === null) next.runtime_ms = Math.round(event.runtimeMs);
    next.finished_at = iso(event.at);
    if (event.startedAt !== undefined) next.started_at = iso(event.startedAt);
  }
  if (event.payload !== undefined && next.payload === null) {
    next.payload = json(options.redactKeys?.length ? redact(event.payload, options.redactKeys) : event.payload);
  }
  if (event.type === 'enqueued' && next.enqueued_at === null) next.enqueued_at = iso(event.at);
  if (event.error !== undefined && (event.type === 'failed' || event.type === 'retrying'))
    addAttemptError(next, event.attempt, event.error, event.at);
  // When the run started is a fact too, even if its `active` event arrives after the end (or
  // never: an attempt's end carries its start, and a batch leaves the `active` event out).
  if (state === 'active' && next.started_at === null && event.attempt === next.attempt) next.started_at = iso(event.at);
  if (event.startedAt !== undefined && next.started_at === null && event.attempt === next.attempt) next.started_at = iso(event.startedAt);
}

/** Every attempt's error is kept once, in attempt order. */
function addAttemptError(next: TaskRunRow, attempt: number, error: string, at: number): void {
  const errors: AttemptError[] = next.errors ? (JSON.parse(next.errors) as AttemptError[]) : [];
  if (errors.some((e) => e.attempt === attempt)) return;
  errors.push({ attempt, error, at: new Date(at).toISOString() });
  errors.sort((a, b) => a.attempt - b.attempt);
  next.errors = JSON.stringify(errors);
}

/**
 * The legal steps back: a run handed back by a stopping worker (active -> waiting, same
 * attempt), and a finished run re-enqueued by an operator (`tq control retry`).
 */
function isHandBack(row: TaskRunRow | undefined, event: RunEvent): boolean {
  if (!row) return false;
  if (event.type === 'requeued') return row.state === 'active' && row.attempt === event.attempt;
  if (event.type === 'retried') return FINAL_STATES.has(row.state) && event.attempt >= row.attempt;
  return false;
}

/** The state move itself, with the fields that belong to the new state. */
function moveTo(next: TaskRunRow, row: TaskRunRow | undefined, event: RunEvent, state: TaskState, handedBack: boolean): TaskRunRow {
  next.state = state;
  next.moved_at = Math.max(row?.moved_at ?? event.at, event.at);
  next.attempt = Math.max(event.attempt, row?.attempt ?? 0);
  if (event.worker !== undefined) next.worker = event.worker;
  if (event.dueAt !== undefined) next.due_at = iso(event.dueAt);
  if (handedBack) startOver(next, event.type === 'retried');
  if (state === 'active') {
    next.started_at = iso(event.at);
    next.finished_at = null;
    next.due_at = null;
  }
  if (event.progress !== undefined) next.progress = json(event.progress);
  if (event.startedAt !== undefined) next.started_at = iso(event.startedAt);
  if (FINAL_STATES.has(state)) {
    next.finished_at = iso(event.at);
    if (event.runtimeMs !== undefined) next.runtime_ms = Math.round(event.runtimeMs);
    next.due_at = null;
  }
  if (state === 'completed') {
    next.result = json(event.result ?? null);
    next.error = null;
    next.stack = null;
  }
  if (event.error !== undefined) {
    next.error = event.error;
    next.stack = event.stack ?? null;
  }
  return next;
}

/** A handed-back run has not started; a retried one has not finished either. */
function startOver(next: TaskRunRow, retried: boolean): void {
  next.started_at = null;
  if (!retried) return;
  next.finished_at = null;
  next.runtime_ms = null;
  next.result = null;
}
