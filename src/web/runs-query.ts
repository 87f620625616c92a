/**
 * The runs list and the bulk actions' selection: a history query (`q=`), a sort and a keyset
 * cursor over `task_runs`.
 *
 * Interim: the query language and its FTS5-backed search are being built in `core/query.ts` and
 * the store (issue 17, item 5). Until they land, this file parses the structured tokens
 * (`state:` `task:` `queue:` `worker:` `id:` `since:` `until:`) and treats the rest as the
 * substring search `inspect history --search` does. Everything else in `src/web` reaches history
 * only through `findRuns` and `eachRunId`, so switching is one change here.
 */
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { isTaskState, TASK_STATES } from '../core/states.js';
import type { Store, TaskRunRow } from '../store/index.js';

export const RUN_SORTS = ['enqueued', 'finished', 'runtime'] as const;
export type RunSort = (typeof RUN_SORTS)[number];

interface ParsedQuery {
  clauses: string[];
  params: unknown[];
}

const KEYS = ['state', 'task', 'queue', 'worker', 'id', 'since', 'until'];

function instant(value: string, token: string, now: number): string {
  if (/^\d+(ms|s|m|h|d|w)$/.test(value)) return new Date(now - parseDuration(value, token)).toISOString();
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`bad query token "${token}": expected a duration (1h, 7d) or a date (2026-12-01)`);
  return new Date(t).toISOString();
}

/** Parses `q` into SQL clauses; a bad token is one error naming it and what is allowed. */
export function parseRunsQuery(q: string | undefined, now = Date.now()): ParsedQuery {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const text: string[] = [];
  for (const m of (q ?? '').matchAll(/(\S+?):"([^"]*)"|"([^"]*)"|(\S+)/g)) {
    const token = m[0];
    const [key, value] = m[1] !== undefined ? [m[1], m[2]!] : m[4]?.includes(':') ? splitOnce(m[4]) : [undefined, m[3] ?? m[4]!];
    if (key === undefined || !KEYS.includes(key)) {
      if (key !== undefined && /^[a-z]+$/.test(key))
        throw new UsageError(`bad query token "${token}": "${key}:" is not a filter (one of ${KEYS.map((k) => `${k}:`).join(' ')})`);
      text.push(value);
      continue;
    }
    if (value === '') throw new UsageError(`bad query token "${token}": "${key}:" needs a value`);
    if (key === 'state') {
      if (!isTaskState(value)) throw new UsageError(`bad query token "${token}": the state is one of ${TASK_STATES.join(', ')}`);
      clauses.push('state = ?');
      params.push(value);
    } else if (key === 'id') {
      clauses.push('job_id = ?');
      params.push(value);
    } else if (key === 'since' || key === 'until') {
      clauses.push(`coalesce(enqueued_at, updated_at) ${key === 'since' ? '>=' : '<'} ?`);
      params.push(instant(value, token, now));
    } else {
      clauses.push(`${key} = ?`);
      params.push(value);
    }
  }
  for (const word of text) {
    const needle = word.toLowerCase();
    clauses.push(
      "(instr(lower(job_id), ?) > 0 OR instr(lower(task), ?) > 0 OR instr(lower(coalesce(payload,'')), ?) > 0 OR instr(lower(coalesce(result,'')), ?) > 0 OR instr(lower(coalesce(error,'')), ?) > 0)",
    );
    params.push(needle, needle, needle, needle, needle);
  }
  return { clauses, params };
}

function splitOnce(s: string): [string, string] {
  const i = s.indexOf(':');
  return [s.slice(0, i), s.slice(i + 1)];
}

const SORT_COLUMN: Record<RunSort, string> = {
  enqueued: 'coalesce(enqueued_at, updated_at)',
  finished: 'finished_at',
  runtime: 'runtime_ms',
};

/** An opaque cursor: the last row's sort value and id. */
function encodeCursor(value: unknown, id: string): string {
  return Buffer.from(JSON.stringify([value, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string | number, string] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[1] === 'string') return parsed as [string | number, string];
  } catch {
    // Not base64 JSON: the same answer as any other malformed cursor, below.
  }
  throw new UsageError('bad cursor: pass back the nextCursor of the previous page unchanged');
}

export interface RunsPage {
  rows: TaskRunRow[];
  /** The cursor of the next page; null on the last one. */
  nextCursor: string | null;
}

/**
 * One page of the runs matching `q`, newest (or longest) first. Sorting by `finished` or
 * `runtime` lists only runs that have one.
 */
export function findRuns(store: Store, q: string | undefined, options: { sort: RunSort; cursor?: string; limit: number }): RunsPage {
  const { clauses, params } = parseRunsQuery(q);
  const column = SORT_COLUMN[options.sort];
  if (options.sort !== 'enqueued') clauses.push(`${column} IS NOT NULL`);
  if (options.cursor !== undefined) {
    const [value, id] = decodeCursor(options.cursor);
    clauses.push(`(${column} < ? OR (${column} = ? AND job_id < ?))`);
    params.push(value, value, id);
  }
  const where = clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
  const rows = store.db
    .prepare(`SELECT *, ${column} AS sort_value FROM task_runs${where} ORDER BY ${column} DESC, job_id DESC LIMIT ?`)
    .all(...params, options.limit + 1) as (TaskRunRow & { sort_value: string | number })[];
  const more = rows.length > options.limit;
  const page = rows.slice(0, options.limit);
  const last = page[page.length - 1];
  return {
    rows: page.map(({ sort_value: _, ...row }) => row as TaskRunRow),
    nextCursor: more && last ? encodeCursor(last.sort_value, last.job_id) : null,
  };
}

/** How many runs match `q`, and the first `sample` of them (a bulk action's dry run). */
export function countRuns(store: Store, q: string | undefined, sample: number): { count: number; sample: TaskRunRow[] } {
  const { clauses, params } = parseRunsQuery(q);
  const where = clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
  const { n } = store.db.prepare(`SELECT count(*) AS n FROM task_runs${where}`).get(...params) as { n: number };
  return { count: n, sample: findRuns(store, q, { sort: 'enqueued', limit: sample }).rows };
}

/**
 * The ids of the runs matching `q`, `chunk` at a time, in id order: each run is visited once
 * even when the action changes its state (and so whether it matches) meanwhile.
 */
export function* eachRunId(store: Store, q: string | undefined, chunk: number): Generator<string[]> {
  const { clauses, params } = parseRunsQuery(q);
  let after = '';
  for (;;) {
    const where = ` WHERE ${[...clauses, 'job_id > ?'].join(' AND ')}`;
    const ids = (
      store.db.prepare(`SELECT job_id FROM task_runs${where} ORDER BY job_id LIMIT ?`).all(...params, after, chunk) as { job_id: string }[]
    ).map((r) => r.job_id);
    if (ids.length === 0) return;
    yield ids;
    after = ids[ids.length - 1]!;
  }
}
