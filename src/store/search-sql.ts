import { QueryError } from '../core/errors.js';
import type { HistoryQuery } from '../core/query.js';
import type { SqliteDatabase } from './database.js';

/**
 * A history query (core/query.ts) as SQL over `task_runs` and its word index (see
 * search-schema.ts): the conditions, and how the full-text terms are best read.
 */
export interface Compiled {
  /** Conditions on `task_runs` (no leading WHERE). */
  clauses: string[];
  params: unknown[];
}

/**
 * How many full-text matches a query may have and still be read by looking its rows up and
 * sorting them; past this, the page walks the sort's index and keeps the rows that match.
 */
const FEW_MATCHES = 2000;

/**
 * The query as SQL conditions. Free text and `error:` go through the FTS index (whole words,
 * case and accents ignored; a free-text word of 3+ letters also finds words it begins);
 * the other keys are plain comparisons on indexed columns where they exist.
 */
export function compileQuery(
  query: HistoryQuery,
  modes: readonly ('lookup' | 'probe' | 'skip')[] = [],
  enqueued?: 'known' | 'unknown',
): Compiled {
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
  // When it was enqueued, or (never seen enqueued) last updated; written as an OR of two index
  // ranges (enqueued_at, and enqueued_at IS NULL) rather than coalesce(), which no index serves.
  // A caller that reads runs with and without enqueued_at apart (`enqueued`) gets one plain
  // range each, which the index also reads in order.
  const time = (op: string, at: string) => {
    if (enqueued === 'known') clauses.push(`enqueued_at ${op} ?`);
    else if (enqueued === 'unknown') clauses.push(`updated_at ${op} ?`);
    else clauses.push(`(enqueued_at ${op} ? OR (enqueued_at IS NULL AND updated_at ${op} ?))`);
    params.push(...(enqueued ? [at] : [at, at]));
  };
  if (query.since !== undefined) time('>=', query.since);
  if (query.until !== undefined) time('<', query.until);
  for (const p of query.payload) {
    const path = `$.${p.path.map((k) => `"${k}"`).join('.')}`;
    // JSON numbers and booleans come out of json_extract as SQL numbers (true is 1).
    const values = p.values.flatMap((v) =>
      /^-?\d+(\.\d+)?$/.test(v) ? [v, Number(v)] : v === 'true' ? [v, 1] : v === 'false' ? [v, 0] : [v],
    );
    clauses.push(`json_extract(payload, ?) IN (${values.map(() => '?').join(', ')})`);
    params.push(path, ...values);
  }
  matchesOf(query).forEach((match, i) => {
    if (modes[i] === 'skip') return; // the caller tests this term itself (see HistorySearch.walk)
    // A run is two documents (rowid * 2 and * 2 + 1, see search-schema.ts): each term is found
    // in either. `+rowid` keeps SQLite from looking each match up by rowid and sorting them
    // all: with many matches, walking the sort's index and testing membership is sooner.
    clauses.push(`${modes[i] === 'probe' ? '+' : ''}rowid IN (SELECT rowid >> 1 FROM task_runs_fts WHERE task_runs_fts MATCH ?)`);
    params.push(match);
  });
  return { clauses, params };
}

/** The full-text terms of a query, one FTS5 MATCH expression each (every one must match). */
function matchesOf(query: HistoryQuery): string[] {
  const fts: string[] = [];
  for (const p of query.payload) {
    // The index narrows the rows json_extract has to read: the value's words are in the payload.
    const phrases = p.values.filter(hasWords).map((v) => phrase(v));
    if (phrases.length === p.values.length) fts.push(`payload : (${phrases.join(' OR ')})`);
  }
  if (query.errors.length) {
    fts.push(`error : (${query.errors.map((e) => phrase(needWords('error:', e))).join(' OR ')})`);
  }
  for (const t of query.text) {
    const words = needWords(t, t);
    // One word of 3+ letters or digits also finds longer words it begins. Anything the index
    // splits into several words (a phrase, an address, a path) is matched as typed: a prefix on
    // its last word (`com*` of an address) would read the lists of every word it begins.
    fts.push(/^[\p{L}\p{N}]{3,}$/u.test(words) ? `${phrase(words)} *` : phrase(words));
  }
  return fts;
}

/**
 * The query compiled for the way its rows are best read: when some full-text term has few
 * matches, its runs are looked up and sorted (the other terms tested on them); when every term
 * has many, the page walks the sort's index and tests membership (see FEW_MATCHES). Also returns
 * how many runs the query matches when that is known from the index alone (one term, up to
 * `upTo` + 1).
 */
export function planQuery(db: SqliteDatabase, query: HistoryQuery, upTo = FEW_MATCHES): Planned {
  const terms = matchesOf(query);
  if (terms.length === 0) return { ...compileQuery(query), modes: [], terms };
  const cap = Math.max(upTo, FEW_MATCHES) + 1;
  const count = db.prepare('SELECT count(*) AS n FROM (SELECT DISTINCT rowid >> 1 FROM task_runs_fts WHERE task_runs_fts MATCH ? LIMIT ?)');
  const counts = terms.map((t) => (count.get(t, cap) as { n: number }).n);
  const fewest = counts.indexOf(Math.min(...counts));
  const modes = counts.map((n, i) => (i === fewest && n <= FEW_MATCHES ? 'lookup' : 'probe') as 'lookup' | 'probe');
  return { ...compileQuery(query, modes), modes, terms, ...(terms.length === 1 ? { matches: counts[0]! } : {}) };
}

export interface Planned extends Compiled {
  /** How each full-text term is read (see compileQuery). */
  modes: ('lookup' | 'probe')[];
  /** The full-text terms (FTS5 MATCH expressions), in the order of `modes`. */
  terms: string[];
  /** Runs matching the only full-text term, counted up to the cap (see planQuery). */
  matches?: number;
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
export function countable(q: HistoryQuery): boolean {
  return (
    q.workers.length + q.ids.length + q.errors.length + q.payload.length + q.text.length === 0 &&
    q.since === undefined &&
    q.until === undefined
  );
}

/** The state, task and queue conditions of a query, over `task_run_counts`. */
export function compileCounters(query: HistoryQuery): Compiled {
  return compileQuery({ ...query, workers: [], ids: [], errors: [], payload: [], text: [] });
}
