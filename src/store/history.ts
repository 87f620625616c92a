import type { HistoryQuery } from '../core/query.js';
import type { TaskState } from '../core/states.js';
import type { SqliteDatabase } from './database.js';
import { HistorySearch, planQuery, scoped, type RunCounts, type SearchOptions, type SearchResult } from './search.js';
import type { TaskRunRow } from './task-runs.js';

export interface HistoryFilter {
  state?: TaskState;
  task?: string;
  queue?: string;
  /** Only runs enqueued (or, lacking that, updated) at or after this ISO time. */
  since?: string;
  /** Runs whose payload, result or error contains this text (case-insensitive). */
  search?: string;
  limit?: number;
}

export interface TaskStats {
  task: string;
  count: number;
  completed: number;
  failed: number;
  cancelled: number;
  expired: number;
  /** Median and 95th percentile runtime of finished runs, ms. */
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface MinuteCount {
  /** Start of the minute, ISO. */
  minute: string;
  completed: number;
  /** Failed only: cancelled and expired runs are counted apart (they are not failures). */
  failed: number;
  cancelled: number;
  expired: number;
}

/** Runs that reached a final state in one minute: all four of them. */
export function finishedIn(m: MinuteCount): number {
  return m.completed + m.failed + m.cancelled + m.expired;
}

/** Per-state sums of the four final states, for a GROUP BY over `task_runs`. */
const FINAL_SUMS =
  "sum(state = 'completed') AS completed, sum(state = 'failed') AS failed, sum(state = 'cancelled') AS cancelled, sum(state = 'expired') AS expired";

function where(filter: HistoryFilter, prefix: string | undefined): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (prefix !== undefined) {
    clauses.push('prefix = ?');
    params.push(prefix);
  }
  if (filter.state) {
    clauses.push('state = ?');
    params.push(filter.state);
  }
  if (filter.task) {
    clauses.push('task = ?');
    params.push(filter.task);
  }
  if (filter.queue) {
    clauses.push('queue = ?');
    params.push(filter.queue);
  }
  if (filter.since) {
    clauses.push('coalesce(enqueued_at, updated_at) >= ?');
    params.push(filter.since);
  }
  if (filter.search) {
    // instr() on lower-cased text: no LIKE wildcards to escape, and it works on JSON text.
    clauses.push(
      "(instr(lower(coalesce(payload,'')), ?) > 0 OR instr(lower(coalesce(result,'')), ?) > 0 OR instr(lower(coalesce(error,'')), ?) > 0)",
    );
    const needle = filter.search.toLowerCase();
    params.push(needle, needle, needle);
  }
  return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params };
}

/**
 * Reads the durable history (`task_runs`): lists, per-task statistics, throughput. With a
 * `prefix`, only that prefix's runs (several prefixes may share one file); without, every run.
 */
export class HistoryQueries {
  /** ` AND prefix = ?` when scoped (appended to a WHERE), and its parameters. */
  private readonly own: { sql: string; params: unknown[] };
  private readonly finder: HistorySearch;

  constructor(
    private readonly db: SqliteDatabase,
    readonly prefix?: string,
  ) {
    this.own = prefix === undefined ? { sql: '', params: [] } : { sql: ' AND prefix = ?', params: [prefix] };
    this.finder = new HistorySearch(db, prefix);
  }

  /** A page of runs matching a query (core/query.ts), with a cursor for the next page. */
  search(query: HistoryQuery, options: SearchOptions = {}): SearchResult {
    return this.finder.search(query, options);
  }

  /** Runs by state, task and queue over the whole history, from counters (no scan). */
  counts(): RunCounts {
    return this.finder.counts();
  }

  /** Matching runs per state, exactly (every term of the query applies). */
  totalsByState(query: HistoryQuery): { total: number; byState: Partial<Record<TaskState, number>> } {
    return this.finder.totalsByState(query);
  }

  list(filter: HistoryFilter = {}): TaskRunRow[] {
    const w = where(filter, this.prefix);
    return this.db
      .prepare(`SELECT * FROM task_runs${w.sql} ORDER BY coalesce(enqueued_at, updated_at) DESC, job_id DESC LIMIT ?`)
      .all(...w.params, filter.limit ?? 50) as TaskRunRow[];
  }

  /** Count per state over the filtered runs (every filter applies, the state too). */
  totals(filter: HistoryFilter = {}): { total: number; byState: Partial<Record<TaskState, number>> } {
    const w = where(filter, this.prefix);
    const rows = this.db.prepare(`SELECT state, count(*) AS n FROM task_runs${w.sql} GROUP BY state`).all(...w.params) as {
      state: TaskState;
      n: number;
    }[];
    const byState: Partial<Record<TaskState, number>> = {};
    let total = 0;
    for (const r of rows) {
      byState[r.state] = r.n;
      total += r.n;
    }
    return { total, byState };
  }

  /** Per task: counts and runtime percentiles of the runs matching `query` (every term applies). */
  taskStats(query: HistoryQuery): TaskStats[] {
    const c = scoped(planQuery(this.db, query), this.prefix);
    const w = { sql: c.clauses.length ? ` WHERE ${c.clauses.join(' AND ')}` : '', params: c.params };
    const counts = this.db
      .prepare(`SELECT task, count(*) AS count, ${FINAL_SUMS} FROM task_runs${w.sql} GROUP BY task ORDER BY task`)
      .all(...w.params) as Omit<TaskStats, 'p50Ms' | 'p95Ms'>[];
    const runtimes = this.db.prepare(
      `SELECT runtime_ms FROM task_runs${w.sql ? `${w.sql} AND` : ' WHERE'} task = ? AND runtime_ms IS NOT NULL ORDER BY runtime_ms`,
    );
    return counts.map((c) => {
      const values = (runtimes.all(...w.params, c.task) as { runtime_ms: number }[]).map((r) => r.runtime_ms);
      return { ...c, p50Ms: percentile(values, 0.5), p95Ms: percentile(values, 0.95) };
    });
  }

  /** Finished runs per minute, by final state, over the last `minutes` minutes (oldest first). */
  perMinute(minutes: number, now = Date.now()): MinuteCount[] {
    const start = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
    const rows = this.db
      .prepare(`SELECT substr(finished_at, 1, 16) AS m, ${FINAL_SUMS} FROM task_runs WHERE finished_at >= ?${this.own.sql} GROUP BY m`)
      .all(new Date(start).toISOString(), ...this.own.params) as ({ m: string } & Omit<MinuteCount, 'minute'>)[];
    const byMinute = new Map(rows.map((r) => [r.m, r]));
    return Array.from({ length: minutes }, (_, i) => {
      const minute = new Date(start + i * 60_000).toISOString();
      return minuteOf(minute, byMinute.get(minute.slice(0, 16)));
    });
  }

  get(jobId: string): TaskRunRow | undefined {
    return this.db.prepare(`SELECT * FROM task_runs WHERE job_id = ?${this.own.sql}`).get(jobId, ...this.own.params) as
      TaskRunRow | undefined;
  }

  /**
   * A page of runs by last change (see `lastChangeOf`), newest first: the `limit` runs just
   * before `before`, just after `after`, or the newest. Finished and unfinished runs are read
   * separately so the finished ones (nearly all of a long history) page through the
   * `finished_at` index instead of sorting the whole table.
   */
  recent(query: RecentQuery): TaskRunRow[] {
    const clauses: string[] = this.prefix === undefined ? [] : ['prefix = ?'];
    const params: unknown[] = [...this.own.params];
    const anyOf = (column: string, values: readonly string[] | undefined) => {
      if (!values?.length) return;
      clauses.push(`${column} IN (${values.map(() => '?').join(',')})`);
      params.push(...values);
    };
    anyOf('state', query.states);
    anyOf('task', query.tasks);
    anyOf('queue', query.queues);
    if (query.match) {
      const compiled = planQuery(this.db, query.match);
      clauses.push(...compiled.clauses);
      params.push(...compiled.params);
    }
    const key = query.before ?? query.after;
    const older = query.after === undefined;
    const part = (finished: boolean) => {
      const at = finished ? 'finished_at' : 'coalesce(started_at, enqueued_at, updated_at)';
      const parts = [finished ? 'finished_at IS NOT NULL' : 'finished_at IS NULL', ...clauses];
      const partParams = [...params];
      if (key) {
        const cmp = older ? '<' : '>';
        parts.push(`(${at} ${cmp} ? OR (${at} = ? AND job_id ${cmp} ?))`);
        partParams.push(key.at, key.at, key.id);
      }
      const dir = older ? 'DESC' : 'ASC';
      return this.db
        .prepare(`SELECT * FROM task_runs WHERE ${parts.join(' AND ')} ORDER BY ${at} ${dir}, job_id ${dir} LIMIT ?`)
        .all(...partParams, query.limit) as TaskRunRow[];
    };
    const byKey = (a: TaskRunRow, b: TaskRunRow) => lastChangeOf(b).localeCompare(lastChangeOf(a)) || b.job_id.localeCompare(a.job_id);
    const rows = [...part(true), ...part(false)].sort(byKey);
    // Newest first either way; a page after `after` is the `limit` runs closest to it.
    return older ? rows.slice(0, query.limit) : rows.slice(Math.max(0, rows.length - query.limit));
  }

  /** How many runs reached each final state at or after `since` (ISO). */
  finishedSince(since: string): Partial<Record<TaskState, number>> {
    const rows = this.db
      .prepare(`SELECT state, count(*) AS n FROM task_runs WHERE finished_at >= ?${this.own.sql} GROUP BY state`)
      .all(since, ...this.own.params) as {
      state: TaskState;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** `perMinute` for each queue that finished runs in the window (oldest minute first). */
  perMinuteByQueue(minutes: number, now = Date.now()): Record<string, MinuteCount[]> {
    const start = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
    const rows = this.db
      .prepare(
        `SELECT queue, substr(finished_at, 1, 16) AS m, ${FINAL_SUMS} FROM task_runs WHERE finished_at >= ?${this.own.sql} GROUP BY queue, m`,
      )
      .all(new Date(start).toISOString(), ...this.own.params) as ({ queue: string; m: string } & Omit<MinuteCount, 'minute'>)[];
    const out: Record<string, MinuteCount[]> = {};
    for (const r of rows) {
      const series = (out[r.queue] ??= Array.from({ length: minutes }, (_, i) => minuteOf(new Date(start + i * 60_000).toISOString())));
      const i = series.findIndex((s) => s.minute.slice(0, 16) === r.m);
      if (i >= 0) series[i] = minuteOf(series[i]!.minute, r);
    }
    return out;
  }
}

function minuteOf(minute: string, counts?: Omit<MinuteCount, 'minute'>): MinuteCount {
  return {
    minute,
    completed: counts?.completed ?? 0,
    failed: counts?.failed ?? 0,
    cancelled: counts?.cancelled ?? 0,
    expired: counts?.expired ?? 0,
  };
}

/** Where `recent` pages from: a run's last-change time (ISO) and its id. */
export interface RecentKey {
  at: string;
  id: string;
}

export interface RecentQuery {
  states?: readonly TaskState[];
  tasks?: readonly string[];
  queues?: readonly string[];
  /** Only runs matching this history query (every term applies). */
  match?: HistoryQuery;
  /** Only runs that changed before this key (older). */
  before?: RecentKey;
  /** Only runs that changed after this key (newer). */
  after?: RecentKey;
  limit: number;
}

/** When a run last moved: when it finished, else started, else was enqueued (ISO). */
export function lastChangeOf(row: TaskRunRow): string {
  return row.finished_at ?? row.started_at ?? row.enqueued_at ?? row.updated_at;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}
