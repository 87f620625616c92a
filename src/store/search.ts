import { UsageError } from '../core/errors.js';
import { compileCounters, compileQuery, countable, planQuery, type Compiled, type Planned } from './search-sql.js';
import { decodeCursor, encodeCursor, type Cursor, type SearchOrder, type SearchSort } from './search-cursor.js';
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
export type { SearchSort, SearchOrder } from './search-cursor.js';
export { compileQuery, planQuery } from './search-sql.js';

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

/** Rows read at a time when walking the sort's index for common words (see HistorySearch.walk). */
const WALK_CHUNK = 2000;

type PagedRow = TaskRunRow & { _rowid: number };

/** `c` limited to one prefix's runs (several prefixes may share a file); `c` itself without one. */
export function scoped<C extends Compiled>(c: C, prefix: string | undefined): C {
  return prefix === undefined ? c : { ...c, clauses: ['prefix = ?', ...c.clauses], params: [prefix, ...c.params] };
}

/** Reads history by query: pages, totals and counts (of one prefix's runs when given one). */
export class HistorySearch {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly prefix?: string,
  ) {}

  /** One page of runs matching `query`, sorted by `sort` (newest first by default). */
  search(query: HistoryQuery, options: SearchOptions = {}): SearchResult {
    const sort = options.sort ?? 'enqueued';
    const order = options.order ?? 'desc';
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new UsageError(`limit must be an integer from 1 to ${MAX_LIMIT} (got ${limit})`);
    }
    const cursor = options.cursor === undefined ? undefined : decodeCursor(options.cursor, sort, order);
    const upTo = options.countUpTo ?? 1000;
    const planned = scoped(planQuery(this.db, query, upTo), this.prefix);
    const column = SORT_COLUMN[sort];
    // Several states (or tasks, or queues) cannot be read in order from one index range: each
    // value is read apart, in order, and the pages merged (a few small reads instead of a sort).
    const split = sort === 'enqueued' ? splitKey(query) : undefined;
    const queries = split ? split.values.map((v) => ({ ...query, [split.key]: [v] })) : [query];
    // Sorted by enqueue time, the runs with and without one are read apart already: each part
    // gets its own plain time range (see compileQuery).
    // Every word common (none looked up): the index is walked in order and the words tested on
    // each stretch of it, rather than reading every id a common word has.
    const walking = planned.modes.length > 0 && !planned.modes.includes('lookup');
    const modes = walking ? planned.modes.map(() => 'skip' as const) : planned.modes;
    const variants = (part: 'valued' | 'unvalued') =>
      queries.map((q) =>
        scoped(compileQuery(q, modes, sort === 'enqueued' ? (part === 'valued' ? 'known' : 'unknown') : undefined), this.prefix),
      );
    const take = (part: 'valued' | 'unvalued', after: Cursor | undefined, n: number) =>
      walking
        ? this.walk(variants(part), column, order, part, after, n, planned.terms)
        : this.merged(variants(part), column, order, part, after, n);
    // One row more than asked says whether there is a next page.
    const inUnvalued = cursor !== undefined && cursor.value === null;
    let rows = inUnvalued ? [] : take('valued', cursor, limit + 1);
    if (rows.length <= limit) rows = [...rows, ...take('unvalued', inUnvalued ? cursor : undefined, limit + 1 - rows.length)];
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    const nextCursor =
      rows.length > limit && last
        ? encodeCursor({
            sort,
            order,
            value: (last as unknown as Record<string, string | number | null>)[column] ?? null,
            rowid: last._rowid,
          })
        : null;
    const { total, exact } = this.count(query, planned, upTo, shown.length + (rows.length > limit ? 1 : 0));
    return { rows: shown.map(({ _rowid, ...row }) => row as TaskRunRow), nextCursor, total, totalExact: exact };
  }

  /** The first `n` rows past `after` of every variant, merged in the page's order. */
  private merged(
    variants: readonly Compiled[],
    column: string,
    order: SearchOrder,
    part: 'valued' | 'unvalued',
    after: Cursor | undefined,
    n: number,
    select = '*',
  ): PagedRow[] {
    const dir = order === 'desc' ? 'DESC' : 'ASC';
    const cmp = order === 'desc' ? '<' : '>';
    const rows = variants.flatMap((v) => {
      const clauses = [...v.clauses, `${column} IS ${part === 'valued' ? 'NOT ' : ''}NULL`];
      const params = [...v.params];
      if (after && part === 'valued') {
        clauses.push(`(${column}, rowid) ${cmp} (?, ?)`);
        params.push(after.value, after.rowid);
      } else if (after) {
        clauses.push(`rowid ${cmp} ?`);
        params.push(after.rowid);
      }
      const by = part === 'valued' ? `${column} ${dir}, rowid ${dir}` : `rowid ${dir}`;
      return this.db
        .prepare(`SELECT rowid AS _rowid, ${select} FROM task_runs WHERE ${clauses.join(' AND ')} ORDER BY ${by} LIMIT ?`)
        .all(...params, n) as PagedRow[];
    });
    if (variants.length === 1) return rows;
    const sign = order === 'desc' ? -1 : 1;
    const value = (r: PagedRow) => (r as unknown as Record<string, string | number | null>)[column] ?? null;
    rows.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const byValue = x === y || part === 'unvalued' ? 0 : x! < y! ? -1 : 1;
      return sign * (byValue || a._rowid - b._rowid);
    });
    return rows.slice(0, n);
  }

  /** Whether no other prefix has runs in this file (from the counters: a few rows). */
  private onlyPrefixInFile(): boolean {
    if (this.prefix === undefined) return true;
    return this.db.prepare('SELECT 1 FROM task_run_counts WHERE n > 0 AND prefix <> ? LIMIT 1').get(this.prefix) === undefined;
  }

  /**
   * The first `n` rows past `after` that match every one of `terms`, read WALK_CHUNK rows at a
   * time in the page's order and tested against the word index over just the rowids of that
   * stretch (an FTS5 rowid range is a seek, not a scan).
   */
  private walk(
    variants: readonly Compiled[],
    column: string,
    order: SearchOrder,
    part: 'valued' | 'unvalued',
    after: Cursor | undefined,
    n: number,
    terms: readonly string[],
  ): PagedRow[] {
    const inRange = this.db.prepare('SELECT rowid >> 1 AS id FROM task_runs_fts WHERE task_runs_fts MATCH ? AND rowid >= ? AND rowid <= ?');
    const out: PagedRow[] = [];
    let position = after;
    for (;;) {
      // Only the sort value and rowid (from the index alone); whole rows for the matches below.
      const stretch = this.merged(variants, column, order, part, position, WALK_CHUNK, column);
      if (stretch.length === 0) return this.whole(out);
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (const r of stretch) {
        lo = Math.min(lo, r._rowid);
        hi = Math.max(hi, r._rowid);
      }
      const found = terms.map((t) => new Set((inRange.all(t, lo * 2, hi * 2 + 1) as { id: number }[]).map((r) => r.id)));
      for (const r of stretch) {
        if (!found.every((f) => f.has(r._rowid))) continue;
        out.push(r);
        if (out.length >= n) return this.whole(out);
      }
      if (stretch.length < WALK_CHUNK) return this.whole(out);
      const last = stretch[stretch.length - 1]!;
      const value = part === 'valued' ? ((last as unknown as Record<string, string | number | null>)[column] ?? null) : null;
      position = { sort: 'enqueued', order, value, rowid: last._rowid };
    }
  }

  /** The whole rows of `rows` (read by rowid), in the same order. */
  private whole(rows: readonly PagedRow[]): PagedRow[] {
    if (rows.length === 0) return [];
    const full = this.db
      .prepare(`SELECT rowid AS _rowid, * FROM task_runs WHERE rowid IN (${rows.map(() => '?').join(', ')})`)
      .all(...rows.map((r) => r._rowid)) as PagedRow[];
    const byId = new Map(full.map((r) => [r._rowid, r]));
    return rows.flatMap((r) => byId.get(r._rowid) ?? []);
  }

  /** Runs by state, task and queue over the whole history, from the counters (no table scan). */
  counts(): RunCounts {
    const own = this.prefix === undefined ? [] : [this.prefix];
    const rows = this.db
      .prepare(`SELECT queue, task, state, n FROM task_run_counts WHERE n > 0${this.prefix === undefined ? '' : ' AND prefix = ?'}`)
      .all(...own) as {
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
    const compiled = scoped(countable(query) ? compileCounters(query) : planQuery(this.db, query), this.prefix);
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

  /**
   * The total for a page: from the counters, from the full-text count, or counted up to `upTo`;
   * not counted (`seen` as a lower bound) when every full-text term is common, where counting
   * would cost more than the page itself.
   */
  private count(query: HistoryQuery, planned: Planned, upTo: number, seen: number): { total: number; exact: boolean } {
    if (countable(query)) return { total: this.totalsByState(query).total, exact: true };
    if (upTo <= 0) return { total: seen, exact: false };
    // The index counts every prefix's runs: exact for this prefix when the file holds no other.
    const ownClauses = this.prefix === undefined ? 1 : 2;
    if (planned.matches !== undefined && planned.clauses.length === ownClauses && this.onlyPrefixInFile()) {
      return planned.matches > upTo ? { total: upTo, exact: false } : { total: planned.matches, exact: true };
    }
    if (planned.modes.length > 0 && !planned.modes.includes('lookup')) return { total: seen, exact: false };
    const n = (
      this.db
        .prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM task_runs WHERE ${planned.clauses.join(' AND ')} LIMIT ?)`)
        .get(...planned.params, upTo + 1) as { n: number }
    ).n;
    return n > upTo ? { total: upTo, exact: false } : { total: n, exact: true };
  }
}

/** The key whose values a page reads apart (see `search`): the one with more than one value. */
function splitKey(q: HistoryQuery): { key: 'states' | 'tasks' | 'queues'; values: readonly string[] } | undefined {
  for (const key of ['states', 'tasks', 'queues'] as const) if (q[key].length > 1) return { key, values: q[key] };
  return undefined;
}
