import { FINAL_STATES, type TaskState } from '../core/states.js';
import type { RunEvent } from '../core/run-events.js';
import type { SqliteDatabase } from './database.js';
import { placeObserved, type PlacedEvent } from './observed.js';
import { createImageProjection } from './image-projection.js';
import { indexQueuedRuns } from './search-schema.js';
import { merge } from './run-merge.js';
import { RUN_FACT_COLUMNS, type ApplyOptions, type TaskRunRow } from './run-row.js';

export { MAX_LOG_LINES, type AttemptError, type ApplyOptions, type TaskRunRow } from './run-row.js';

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
const WRITTEN_COLUMNS = [...RUN_FACT_COLUMNS, 'updated_at', 'prefix'] as const satisfies readonly (keyof TaskRunRow)[];

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
  // `+state`, `+prefix`: never through the state index. Without statistics (no ANALYZE) the
  // planner preferred it, and then every chunk read and sorted every finished run to find its
  // oldest few (tens of ms of CPU per chunk at 200,000 runs, whatever the chunk's size).
  const prunable = `finished_at IS NOT NULL AND finished_at < ? AND +state IN (${[...FINAL_STATES, 'lost'].map((s) => `'${s}'`).join(',')}) AND +prefix = ?`;
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
