import { QueryError, UsageError } from '../core/errors.js';
import type { HistoryQuery } from '../core/query.js';
import type { TaskState } from '../core/states.js';
import type { SqliteDatabase } from './database.js';
import type { TaskRunRow } from './task-runs.js';

/**
 * History search: a `HistoryQuery` (core/query.ts) as SQL over `task_runs`, its full-text index
 * and its counters (see search-schema.ts).
 *
 * Paging is by key, not OFFSET: a cursor holds the sort value and rowid of the last row shown,
 * and the next page starts just past it, so page 1,000 costs what page 1 costs and a run that
 * arrives meanwhile neither repeats nor hides a row. Runs without a sort value (not finished
 * yet, for `finished` and `runtime`) come after all the others, in either order.
 */
export type SearchSort = 'enqueued' | 'finished' | 'runtime';
export type SearchOrder = 'asc' | 'desc';

export interface SearchOptions {
  /** Rows per page (default 50, at most 1,000). */
  limit?: number;
  /** `nextCursor` of the previous page, for the same query, sort and order. */
  cursor?: string;
  sort?: SearchSort;
  order?: SearchOrder;
  /** Count matches up to this many for `total` (default 10,000); 0 skips counting. */
  countUpTo?: number;
}

export interface SearchResult {
  rows: TaskRunRow[];
  /** Pass it as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
  /** Runs matching the query: exact when `totalExact`, else at least this many. */
  total: number;
  totalExact: boolean;
}

export interface RunCounts {
  total: number;
  byState: Partial<Record<TaskState, number>>;
  byTask: Record<string, number>;
  byQueue: Record<string, number>;
}

const SORT_COLUMN: Record<SearchSort, string> = { enqueued: 'enqueued_at', finished: 'finished_at', runtime: 'runtime_ms' };
const MAX_LIMIT = 10_000;

interface Compiled {
  /** Conditions on `task_runs` (no leading WHERE). */
  clauses: string[];
  params: unknown[];
}

/**
 * The query as SQL conditions. Free text and `error:` go through the FTS index (whole words,
 * case and accents ignored; a free-text word of 3+ letters also finds words it begins);
 * the other keys are plain comparisons on indexed columns where they exist.
 */
export function compileQuery(query: HistoryQuery): Compiled {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const anyOf = (column: string, values: readonly string[]) => {
    if (!values.length) return;
    clauses.push(`${column} IN (${values.map(() => '?').join(', ')})`);
    params.push(...values);
  };
  anyOf('state', query.states);
  anyOf('task', query.tasks);
  anyOf('queue', query.queues);
  if (query.workers.length) {
    clauses.push(`(${query.workers.map(() => 'substr(worker, 1, ?) = ?').join(' OR ')})`);
    for (const w of query.workers) params.push(w.length, w);
  }
  if (query.ids.length) {
    // A range on the primary key: an id's beginning finds every id it starts.
    clauses.push(`(${query.ids.map(() => '(job_id >= ? AND job_id < ?)').join(' OR ')})`);
    for (const id of query.ids) params.push(id, `${id}\u{10FFFF}`);
  }
  if (query.since !== undefined) {
    clauses.push('coalesce(enqueued_at, updated_at) >= ?');
    params.push(query.since);
  }
  if (query.until !== undefined) {
    clauses.push('coalesce(enqueued_at, updated_at) < ?');
    params.push(query.until);
  }
  const fts: string[] = [];
  for (const p of query.payload) {
    const path = `$.${p.path.map((k) => `"${k}"`).join('.')}`;
    // JSON numbers and booleans come out of json_extract as SQL numbers (true is 1).
    const values = p.values.flatMap((v) =>
      /^-?\d+(\.\d+)?$/.test(v) ? [v, Number(v)] : v === 'true' ? [v, 1] : v === 'false' ? [v, 0] : [v],
    );
    clauses.push(`json_extract(payload, ?) IN (${values.map(() => '?').join(', ')})`);
    params.push(path, ...values);
    // The index narrows the rows json_extract has to read: the value's words are in the payload.
    const phrases = p.values.filter(hasWords).map((v) => phrase(v));
    if (phrases.length === p.values.length) fts.push(`payload : (${phrases.join(' OR ')})`);
  }
  if (query.errors.length) {
    fts.push(`error : (${query.errors.map((e) => phrase(needWords('error:', e))).join(' OR ')})`);
  }
  for (const t of query.text) {
    const words = needWords(t, t);
    // One word of 3+ characters also finds longer words it begins; a phrase is taken as typed.
    fts.push(/\s/.test(words.trim()) || [...words].length < 3 ? phrase(words) : `${phrase(words)} *`);
  }
  if (fts.length) {
    clauses.push('rowid IN (SELECT rowid FROM task_runs_fts WHERE task_runs_fts MATCH ?)');
    params.push(fts.join(' AND '));
  }
  return { clauses, params };
}

function hasWords(text: string): boolean {
  return /[\p{L}\p{N}]/u.test(text);
}

/** `text` when it has something the word index can find; else a QueryError naming it. */
function needWords(token: string, text: string): string {
  if (hasWords(text)) return text;
  throw new QueryError(token, `"${text}" has no letters or digits to search for`, {
    hint: 'free text and error: match words; punctuation alone matches nothing',
  });
}

/** An FTS5 string (a phrase): quotes doubled, so no operator or column name inside is read. */
function phrase(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/** Whether only the counters are needed: no condition beyond state, task and queue. */
function countable(q: HistoryQuery): boolean {
  return (
    q.workers.length + q.ids.length + q.errors.length + q.payload.length + q.text.length === 0 &&
    q.since === undefined &&
    q.until === undefined
  );
}

interface Cursor {
  sort: SearchSort;
  order: SearchOrder;
  /** The last row's sort value (null: it was among the rows without one). */
  value: string | number | null;
  rowid: number;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.sort, c.order, c.value, c.rowid])).toString('base64url');
}

function decodeCursor(text: string, sort: SearchSort, order: SearchOrder): Cursor {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parts = undefined;
  }
  const [s, o, value, rowid] = Array.isArray(parts) ? (parts as unknown[]) : [];
  const valid =
    s === sort && o === order && Number.isSafeInteger(rowid) && (value === null || typeof value === 'string' || typeof value === 'number');
  if (!valid) {
    throw new UsageError(`the cursor "${text.slice(0, 40)}" is not one this search returned (sort ${sort}, ${order})`, {
      hint: 'pass the nextCursor of the previous page with the same query, sort and order, or leave it out for the first page',
    });
  }
  return { sort, order, value: value as Cursor['value'], rowid: rowid as number };
}

/** Reads history by query: pages, totals and counts. */
export class HistorySearch {
  constructor(private readonly db: SqliteDatabase) {}

  /** One page of runs matching `query`, sorted by `sort` (newest first by default). */
  search(query: HistoryQuery, options: SearchOptions = {}): SearchResult {
    const sort = options.sort ?? 'enqueued';
    const order = options.order ?? 'desc';
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new UsageError(`limit must be an integer from 1 to ${MAX_LIMIT} (got ${limit})`);
    }
    const cursor = options.cursor === undefined ? undefined : decodeCursor(options.cursor, sort, order);
    const compiled = compileQuery(query);
    const column = SORT_COLUMN[sort];
    const dir = order === 'desc' ? 'DESC' : 'ASC';
    const cmp = order === 'desc' ? '<' : '>';
    const page = (part: 'valued' | 'unvalued', after: Cursor | undefined, n: number) => {
      const clauses = [...compiled.clauses, `${column} IS ${part === 'valued' ? 'NOT ' : ''}NULL`];
      const params = [...compiled.params];
      if (after && part === 'valued') {
        clauses.push(`(${column}, rowid) ${cmp} (?, ?)`);
        params.push(after.value, after.rowid);
      } else if (after) {
        clauses.push(`rowid ${cmp} ?`);
        params.push(after.rowid);
      }
      const order = part === 'valued' ? `${column} ${dir}, rowid ${dir}` : `rowid ${dir}`;
      return this.db
        .prepare(`SELECT rowid AS _rowid, * FROM task_runs WHERE ${clauses.join(' AND ')} ORDER BY ${order} LIMIT ?`)
        .all(...params, n) as (TaskRunRow & { _rowid: number })[];
    };
    // One row more than asked says whether there is a next page.
    const inUnvalued = cursor !== undefined && cursor.value === null;
    let rows = inUnvalued ? [] : page('valued', cursor, limit + 1);
    if (rows.length <= limit) rows = [...rows, ...page('unvalued', inUnvalued ? cursor : undefined, limit + 1 - rows.length)];
    const more = rows.length > limit;
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    const nextCursor =
      more && last
        ? encodeCursor({
            sort,
            order,
            value: (last as unknown as Record<string, string | number | null>)[column] ?? null,
            rowid: last._rowid,
          })
        : null;
    const { total, exact } = this.count(query, compiled, options.countUpTo ?? 10_000);
    return {
      rows: shown.map(({ _rowid, ...row }) => row as TaskRunRow),
      nextCursor,
      total,
      totalExact: exact,
    };
  }

  /** Runs by state, task and queue over the whole history, from the counters (no table scan). */
  counts(): RunCounts {
    const rows = this.db.prepare('SELECT queue, task, state, n FROM task_run_counts WHERE n > 0').all() as {
      queue: string;
      task: string;
      state: TaskState;
      n: number;
    }[];
    const out: RunCounts = { total: 0, byState: {}, byTask: {}, byQueue: {} };
    for (const r of rows) {
      out.total += r.n;
      out.byState[r.state] = (out.byState[r.state] ?? 0) + r.n;
      out.byTask[r.task] = (out.byTask[r.task] ?? 0) + r.n;
      out.byQueue[r.queue] = (out.byQueue[r.queue] ?? 0) + r.n;
    }
    return out;
  }

  /**
   * Matching runs per state, exactly: from the counters when the query is only states, tasks
   * and queues, else by counting the matches (every filter applies).
   */
  totalsByState(query: HistoryQuery): { total: number; byState: Partial<Record<TaskState, number>> } {
    const compiled = countable(query) ? compileCounters(query) : compileQuery(query);
    const sql = countable(query)
      ? `SELECT state, sum(n) AS n FROM task_run_counts WHERE n > 0${compiled.clauses.map((c) => ` AND ${c}`).join('')} GROUP BY state`
      : `SELECT state, count(*) AS n FROM task_runs${compiled.clauses.length ? ` WHERE ${compiled.clauses.join(' AND ')}` : ''} GROUP BY state`;
    const rows = this.db.prepare(sql).all(...compiled.params) as { state: TaskState; n: number }[];
    const byState: Partial<Record<TaskState, number>> = {};
    let total = 0;
    for (const r of rows) {
      if (!r.n) continue;
      byState[r.state] = r.n;
      total += r.n;
    }
    return { total, byState };
  }

  private count(query: HistoryQuery, compiled: Compiled, upTo: number): { total: number; exact: boolean } {
    if (countable(query)) return { total: this.totalsByState(query).total, exact: true };
    if (upTo <= 0) return { total: 0, exact: false };
    const where = compiled.clauses.length ? ` WHERE ${compiled.clauses.join(' AND ')}` : '';
    const n = (
      this.db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM task_runs${where} LIMIT ?)`).get(...compiled.params, upTo + 1) as {
        n: number;
      }
    ).n;
    return n > upTo ? { total: upTo, exact: false } : { total: n, exact: true };
  }
}

/** The state, task and queue conditions of a query, over `task_run_counts`. */
function compileCounters(query: HistoryQuery): Compiled {
  return compileQuery({ ...query, workers: [], ids: [], errors: [], payload: [], text: [] });
}
