import type { TaskState } from '../core/states.js';
import type { SqliteDatabase } from './database.js';
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
  /** Median and 95th percentile runtime of finished runs, ms. */
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface MinuteCount {
  /** Start of the minute, ISO. */
  minute: string;
  completed: number;
  failed: number;
}

function where(filter: HistoryFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
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
    clauses.push("(instr(lower(coalesce(payload,'')), ?) > 0 OR instr(lower(coalesce(result,'')), ?) > 0 OR instr(lower(coalesce(error,'')), ?) > 0)");
    const needle = filter.search.toLowerCase();
    params.push(needle, needle, needle);
  }
  return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Reads the durable history (`task_runs`): lists, per-task statistics, throughput. */
export class HistoryQueries {
  constructor(private readonly db: SqliteDatabase) {}

  list(filter: HistoryFilter = {}): TaskRunRow[] {
    const w = where(filter);
    return this.db
      .prepare(`SELECT * FROM task_runs${w.sql} ORDER BY coalesce(enqueued_at, updated_at) DESC, job_id DESC LIMIT ?`)
      .all(...w.params, filter.limit ?? 50) as TaskRunRow[];
  }

  /** Count per state over the filtered runs. */
  totals(filter: HistoryFilter = {}): { total: number; byState: Partial<Record<TaskState, number>> } {
    const w = where({ ...filter, state: undefined });
    const rows = this.db.prepare(`SELECT state, count(*) AS n FROM task_runs${w.sql} GROUP BY state`).all(...w.params) as { state: TaskState; n: number }[];
    const byState: Partial<Record<TaskState, number>> = {};
    let total = 0;
    for (const r of rows) {
      byState[r.state] = r.n;
      total += r.n;
    }
    return { total, byState };
  }

  /** Per task: counts and runtime percentiles of finished runs. */
  taskStats(filter: HistoryFilter = {}): TaskStats[] {
    const w = where({ ...filter, state: undefined });
    const counts = this.db
      .prepare(
        `SELECT task, count(*) AS count, sum(state = 'completed') AS completed, sum(state = 'failed') AS failed FROM task_runs${w.sql} GROUP BY task ORDER BY task`,
      )
      .all(...w.params) as { task: string; count: number; completed: number; failed: number }[];
    const runtimes = this.db.prepare(
      `SELECT runtime_ms FROM task_runs${w.sql ? `${w.sql} AND` : ' WHERE'} task = ? AND runtime_ms IS NOT NULL ORDER BY runtime_ms`,
    );
    return counts.map((c) => {
      const values = (runtimes.all(...w.params, c.task) as { runtime_ms: number }[]).map((r) => r.runtime_ms);
      return { ...c, p50Ms: percentile(values, 0.5), p95Ms: percentile(values, 0.95) };
    });
  }

  /** Completed and failed runs per minute over the last `minutes` minutes (oldest first). */
  perMinute(minutes: number, now = Date.now()): MinuteCount[] {
    const start = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
    const rows = this.db
      .prepare(
        `SELECT substr(finished_at, 1, 16) AS m, sum(state = 'completed') AS completed, sum(state IN ('failed','expired','cancelled')) AS failed
         FROM task_runs WHERE finished_at >= ? GROUP BY m`,
      )
      .all(new Date(start).toISOString()) as { m: string; completed: number; failed: number }[];
    const byMinute = new Map(rows.map((r) => [r.m, r]));
    return Array.from({ length: minutes }, (_, i) => {
      const minute = new Date(start + i * 60_000).toISOString();
      const r = byMinute.get(minute.slice(0, 16));
      return { minute, completed: r?.completed ?? 0, failed: r?.failed ?? 0 };
    });
  }

  get(jobId: string): TaskRunRow | undefined {
    return this.db.prepare('SELECT * FROM task_runs WHERE job_id = ?').get(jobId) as TaskRunRow | undefined;
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}
