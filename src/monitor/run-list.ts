import type { RunEvent } from '../core/run-events.js';
import { FINAL_STATES, supersedes, type TaskState } from '../core/states.js';
import { matchesFilter, type RunFilter } from './filter.js';
import { HEAD_CAP, type RowKey, type RunRow } from './state.js';

/**
 * How run events move runs between states, for the monitor's in-memory rows. The rules are the
 * recorder's (src/store/task-runs.ts), so the live list and the SQLite history it is seeded
 * from never disagree: events may arrive late, twice (a reseed overlaps the stream) or out of
 * order across workers, and a state never moves backwards.
 */

/** The state an event moves its run into; undefined for progress and log lines. */
export function eventState(e: RunEvent): TaskState | undefined {
  switch (e.type) {
    case 'progress':
    case 'log':
      return undefined;
    case 'enqueued':
      return e.dueAt !== undefined && e.dueAt > e.at ? 'delayed' : 'waiting';
    case 'requeued':
    case 'retried':
      return 'waiting';
    default:
      return e.type;
  }
}

/**
 * The state a run known as `current` moves into on `e`, or undefined when the event is stale.
 * Two steps back are legal: an active run handed back by a stopping worker (`requeued`), and
 * a finished run re-enqueued by an operator (`retried`).
 */
export function transition(current: { state: TaskState; attempt: number } | undefined, e: RunEvent): TaskState | undefined {
  const next = eventState(e);
  if (next === undefined) return undefined;
  if (!current) return next;
  if (e.type === 'requeued' && current.state === 'active' && current.attempt === e.attempt) return next;
  if (e.type === 'retried' && FINAL_STATES.has(current.state) && e.attempt >= current.attempt) return next;
  return supersedes(current, { state: next, attempt: e.attempt }) ? next : undefined;
}

/** The row after `e`; the same object when the event changes nothing. */
export function applyToRow(row: RunRow | undefined, e: RunEvent): RunRow | undefined {
  const state = transition(row, e);
  if (state === undefined) return row;
  const next: RunRow = row ? { ...row } : { id: e.jobId, task: e.task, queue: e.queue, state, attempt: e.attempt, changedAt: e.at };
  next.state = state;
  next.attempt = Math.max(e.attempt, row?.attempt ?? 0);
  next.changedAt = e.at;
  if (e.worker !== undefined) next.worker = e.worker;
  if (state === 'active' || e.type === 'retried') {
    next.runtimeMs = undefined;
    next.error = undefined;
  }
  if (FINAL_STATES.has(state) && e.runtimeMs !== undefined) next.runtimeMs = Math.round(e.runtimeMs);
  if (state === 'completed') next.error = undefined;
  if (e.error !== undefined) next.error = e.error;
  return next;
}

/** Newest change first; the id breaks ties so the order is total (and matches SQLite's). */
export function compareRows(a: RunRow, b: RunRow): number {
  return b.changedAt - a.changedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

export const rowKey = (row: RunRow): RowKey => ({ at: row.changedAt, id: row.id });

export interface HeadUpdate {
  head: RunRow[];
  /** Runs that were not in the head before. */
  added: number;
  /** The oldest rows fell off (HEAD_CAP). */
  trimmed: boolean;
}

/** Applies events to the head: changed runs move to the top, runs outside the filter leave. */
export function applyToHead(head: readonly RunRow[], events: readonly RunEvent[], filter: RunFilter): HeadUpdate {
  const byId = new Map(head.map((r) => [r.id, r]));
  let added = 0;
  let changed = false;
  for (const e of events) {
    const row = byId.get(e.jobId);
    const next = applyToRow(row, e);
    if (next === row || next === undefined) continue;
    changed = true;
    if (!matchesFilter(filter, next, { listed: row !== undefined, payload: e.payload })) {
      byId.delete(e.jobId);
      continue;
    }
    if (!row) added += 1;
    byId.set(e.jobId, next);
  }
  if (!changed) return { head: head as RunRow[], added: 0, trimmed: false };
  const sorted = [...byId.values()].sort(compareRows);
  return { head: sorted.slice(0, HEAD_CAP), added, trimmed: sorted.length > HEAD_CAP };
}

/**
 * Applies events to a frozen view: rows change in place and keep their position (the user is
 * looking at them); runs that are not in the view are the head's business.
 */
export function applyToFrozen(rows: readonly RunRow[], events: readonly RunEvent[]): RunRow[] {
  let out: RunRow[] | undefined;
  let index: Map<string, number> | undefined;
  for (const e of events) {
    index ??= new Map(rows.map((r, i) => [r.id, i]));
    const i = index.get(e.jobId);
    if (i === undefined) continue;
    const current = (out ?? rows)[i]!;
    const next = applyToRow(current, e);
    if (next === current || next === undefined) continue;
    out ??= [...rows];
    out[i] = next;
  }
  return out ?? (rows as RunRow[]);
}

/** Appends (or prepends) a page of rows, skipping runs the view already has. */
export function mergePage(rows: readonly RunRow[], page: readonly RunRow[], where: 'end' | 'start'): { rows: RunRow[]; added: number } {
  const have = new Set(rows.map((r) => r.id));
  const fresh = page.filter((r) => !have.has(r.id));
  return { rows: where === 'end' ? [...rows, ...fresh] : [...fresh, ...rows], added: fresh.length };
}
