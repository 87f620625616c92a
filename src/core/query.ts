import { parseDuration } from './duration.js';
import { QueryError, TqError } from './errors.js';
import { TASK_STATES, isTaskState, type TaskState } from './states.js';
import { closest } from './suggest.js';

/**
 * The history query language: one parser for `tq inspect history --search`, the API's `q=`, the
 * monitor's `/` filter and the dashboard's search box.
 *
 *   state:failed task:resize queue:images worker:host1 id:abc error:"premature end"
 *   since:1h until:2026-12-01 payload.user:42 corrupt "exact phrase"
 *
 * Terminology:
 * - term      `key:value` (a filter) or a bare word / "quoted phrase" (free text)
 * - values    `state:failed,cancelled` and `state:failed state:cancelled` are the same: several
 *             values of one key are alternatives (OR); different keys must all hold (AND)
 * - free text every word and phrase must appear somewhere in the run (task, id, payload, result,
 *             error, logs); words match whole words or their beginnings, case ignored
 *
 * Pure: the clock is passed in (`now`) so `since:1h` is testable.
 */
export interface HistoryQuery {
  /** Run states, any of them. */
  readonly states: readonly TaskState[];
  /** Task names, exact, any of them. */
  readonly tasks: readonly string[];
  /** Queue names, exact, any of them. */
  readonly queues: readonly string[];
  /** Worker names or their beginning (`host1` finds `host1.4242`), any of them. */
  readonly workers: readonly string[];
  /** Run ids or their beginning, any of them. */
  readonly ids: readonly string[];
  /** Text the run's error (any attempt's) contains, any of them. */
  readonly errors: readonly string[];
  /** Only runs enqueued (or, lacking that, last updated) at or after this ISO time. */
  readonly since?: string;
  /** Only runs enqueued (or, lacking that, last updated) before this ISO time. */
  readonly until?: string;
  /** `payload.a.b:v`: the payload's value at that path equals one of `values` (as text or number). */
  readonly payload: readonly PayloadTerm[];
  /** Free-text words and phrases: every one must appear. */
  readonly text: readonly string[];
}

export interface PayloadTerm {
  /** Keys from the payload's root: `payload.user.id` is `['user', 'id']`. */
  readonly path: readonly string[];
  readonly values: readonly string[];
}

/** The keys a term may have; `payload.<path>` besides. */
export const QUERY_KEYS = ['state', 'task', 'queue', 'worker', 'id', 'error', 'since', 'until'] as const;
export type QueryKey = (typeof QUERY_KEYS)[number];

const ALLOWED_KEYS = `${QUERY_KEYS.join(', ')}, payload.<key>`;
const PAYLOAD_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export const EMPTY_QUERY: HistoryQuery = { states: [], tasks: [], queues: [], workers: [], ids: [], errors: [], payload: [], text: [] };

/** Whether the query filters nothing (every run matches). */
export function isEmptyQuery(q: HistoryQuery): boolean {
  return (
    q.states.length +
      q.tasks.length +
      q.queues.length +
      q.workers.length +
      q.ids.length +
      q.errors.length +
      q.payload.length +
      q.text.length ===
      0 &&
    q.since === undefined &&
    q.until === undefined
  );
}

interface Token {
  /** The token as typed, for error messages. */
  raw: string;
  /** The key before `:`, lower-cased, or undefined for free text. */
  key?: string;
  value: string;
  /** Whether the value was quoted (then it is one value, commas included). */
  quoted: boolean;
}

/**
 * Parses a query. Throws a `QueryError` naming the first bad token and what is allowed there.
 * `now` anchors relative times (`since:1h`).
 */
export function parseQuery(text: string, now: Date = new Date()): HistoryQuery {
  const acc = {
    states: new Set<TaskState>(),
    tasks: new Set<string>(),
    queues: new Set<string>(),
    workers: new Set<string>(),
    ids: new Set<string>(),
    errors: new Set<string>(),
    payload: new Map<string, Set<string>>(),
    text: new Set<string>(),
  };
  let since: { raw: string; iso: string } | undefined;
  let until: { raw: string; iso: string } | undefined;

  for (const token of tokenize(text)) {
    if (token.key === undefined) {
      if (token.value.trim()) acc.text.add(token.value.trim());
      continue;
    }
    const values = valuesOf(token);
    const key = token.key;
    if (key.startsWith('payload.')) {
      const path = key.slice('payload.'.length).split('.');
      if (!path.every((p) => PAYLOAD_KEY.test(p))) {
        throw new QueryError(token.raw, `${token.raw}: "${key}" is not a payload path`, {
          hint: 'use payload.<key> or payload.<key>.<key> (letters, digits, _ and -), e.g. payload.user:42',
        });
      }
      const joined = path.join('.');
      const set = acc.payload.get(joined) ?? new Set<string>();
      for (const v of values) set.add(v);
      acc.payload.set(joined, set);
      continue;
    }
    switch (key as QueryKey) {
      case 'state':
        for (const v of values) acc.states.add(stateOf(token, v));
        break;
      case 'task':
        for (const v of values) acc.tasks.add(v);
        break;
      case 'queue':
        for (const v of values) acc.queues.add(v);
        break;
      case 'worker':
        for (const v of values) acc.workers.add(v);
        break;
      case 'id':
        for (const v of values) acc.ids.add(v);
        break;
      case 'error':
        for (const v of values) acc.errors.add(v);
        break;
      case 'since':
      case 'until': {
        const which: 'since' | 'until' = key === 'since' ? 'since' : 'until';
        const previous = key === 'since' ? since : until;
        if (previous) {
          throw new QueryError(token.raw, `${token.raw}: ${key} is given twice (${previous.raw} and ${token.raw})`, {
            hint: `keep one ${key}: term`,
          });
        }
        const iso = timeOf(token, which, now);
        if (key === 'since') since = { raw: token.raw, iso };
        else until = { raw: token.raw, iso };
        break;
      }
      default: {
        const suggested = closest(key, [...QUERY_KEYS, 'payload']);
        const guess = suggested === undefined ? '' : `; did you mean "${suggested === 'payload' ? 'payload.<key>' : suggested}:"?`;
        throw new QueryError(token.raw, `${token.raw}: unknown key "${key}"${guess}`, {
          hint: `keys: ${ALLOWED_KEYS}; to search for text with a colon, quote it: "${token.raw}"`,
        });
      }
    }
  }
  if (since && until && since.iso >= until.iso) {
    throw new QueryError(until.raw, `${until.raw} is not after ${since.raw}: no run can match`, {
      hint: 'since: is the earliest enqueue time, until: the latest',
    });
  }
  return {
    states: TASK_STATES.filter((s) => acc.states.has(s)),
    tasks: [...acc.tasks],
    queues: [...acc.queues],
    workers: [...acc.workers],
    ids: [...acc.ids],
    errors: [...acc.errors],
    ...(since ? { since: since.iso } : {}),
    ...(until ? { until: until.iso } : {}),
    payload: [...acc.payload].map(([path, values]) => ({ path: path.split('.'), values: [...values] })),
    text: [...acc.text],
  };
}

/**
 * The query as text that `parseQuery` reads back to the same query (times as ISO): how the
 * `inspect history` flags become terms, and what a caller shows as "filtered by".
 */
export function formatQuery(q: HistoryQuery): string {
  const terms: string[] = [];
  const add = (key: string, values: readonly string[]) => {
    if (values.length) terms.push(`${key}:${values.map(quoteValue).join(',')}`);
  };
  add('state', q.states);
  add('task', q.tasks);
  add('queue', q.queues);
  add('worker', q.workers);
  add('id', q.ids);
  add('error', q.errors);
  if (q.since) terms.push(`since:${q.since}`);
  if (q.until) terms.push(`until:${q.until}`);
  for (const p of q.payload) add(`payload.${p.path.join('.')}`, p.values);
  for (const t of q.text) terms.push(/[\s":]/.test(t) ? quote(t) : t);
  return terms.join(' ');
}

/**
 * Both queries must hold (how `inspect history --state failed --search "..."` combines its flags
 * with the search). A key set in only one keeps its values; a key set in both keeps the values
 * common to both. Values that have nothing in common match no run: refused with a QueryError
 * naming the key, rather than answering "no runs" to a contradiction.
 */
export function allOf(a: HistoryQuery, b: HistoryQuery): HistoryQuery {
  const both = <T>(key: string, x: readonly T[], y: readonly T[]): T[] => {
    if (!x.length) return [...y];
    if (!y.length) return [...x];
    const common = x.filter((v) => y.includes(v));
    if (!common.length) throw new QueryError(key, `${key}: ${x.join(',')} and ${key}: ${y.join(',')} together match no run`);
    return common;
  };
  const later = (x?: string, y?: string) => (x === undefined ? y : y === undefined ? x : x > y ? x : y);
  const earlier = (x?: string, y?: string) => (x === undefined ? y : y === undefined ? x : x < y ? x : y);
  const since = later(a.since, b.since);
  const until = earlier(a.until, b.until);
  return {
    states: both('state', a.states, b.states),
    tasks: both('task', a.tasks, b.tasks),
    queues: both('queue', a.queues, b.queues),
    workers: both('worker', a.workers, b.workers),
    ids: both('id', a.ids, b.ids),
    errors: both('error', a.errors, b.errors),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    payload: [...a.payload, ...b.payload],
    text: [...new Set([...a.text, ...b.text])],
  };
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    const start = i;
    if (text[i] === '"') {
      const { value, end } = readQuoted(text, i);
      tokens.push({ raw: text.slice(start, end), value, quoted: true });
      i = end;
      continue;
    }
    while (i < text.length && !/\s/.test(text[i]!) && !(text[i] === '"' && text[i - 1] === ':')) i++;
    const word = text.slice(start, i);
    const colon = word.indexOf(':');
    const key = colon > 0 ? word.slice(0, colon) : undefined;
    // `key:` followed by a quote: the quoted text is the value (`error:"premature end"`).
    if (key !== undefined && colon === word.length - 1 && text[i] === '"') {
      const { value, end } = readQuoted(text, i);
      tokens.push({ raw: text.slice(start, end), key: key.toLowerCase(), value, quoted: true });
      i = end;
      continue;
    }
    // Only `word:` where word looks like a key is a term: `12:30` or `http://x` stay free text.
    if (key !== undefined && /^[A-Za-z][A-Za-z0-9_.-]*$/.test(key) && !word.slice(colon + 1).startsWith('//')) {
      tokens.push({ raw: word, key: key.toLowerCase(), value: word.slice(colon + 1), quoted: false });
    } else {
      tokens.push({ raw: word, value: word, quoted: false });
    }
  }
  return tokens;
}

/** A double-quoted string from `text[at]`; `\"` and `\\` are escapes. */
function readQuoted(text: string, at: number): { value: string; end: number } {
  let value = '';
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
      value += text[++i];
    } else if (c === '"') {
      return { value, end: i + 1 };
    } else {
      value += c;
    }
  }
  const raw = text.slice(text.lastIndexOf(' ', at) + 1);
  throw new QueryError(raw, `${raw}: the quote is not closed`, { hint: 'close it with " (write \\" for a quote inside)' });
}

function valuesOf(token: Token): string[] {
  if (token.quoted) {
    if (!token.value) throw new QueryError(token.raw, `${token.raw}: the value is empty`, { hint: allowedFor(token.key!) });
    return [token.value];
  }
  const values = token.value.split(',');
  if (values.some((v) => !v)) {
    throw new QueryError(token.raw, token.value ? `${token.raw}: an empty value between commas` : `${token.raw} needs a value`, {
      hint: allowedFor(token.key!),
    });
  }
  return values;
}

function allowedFor(key: string): string {
  switch (key) {
    case 'state':
      return `states: ${TASK_STATES.join(', ')}`;
    case 'since':
    case 'until':
      return 'a duration back from now (30m, 1h, 7d), a date (2026-12-01) or an ISO time';
    default:
      return `e.g. ${key}:value, ${key}:a,b or ${key}:"text with spaces"`;
  }
}

function stateOf(token: Token, value: string): TaskState {
  const lower = value.toLowerCase();
  if (isTaskState(lower)) return lower;
  const suggested = closest(lower, TASK_STATES);
  throw new QueryError(token.raw, `${token.raw}: "${value}" is not a state${suggested ? `; did you mean "${suggested}"?` : ''}`, {
    hint: `states: ${TASK_STATES.join(', ')}`,
  });
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * `since:`/`until:` as an ISO time. A duration counts back from `now`; a date is midnight UTC
 * of that day for `since` and the next midnight for `until` (so `until:2026-12-01` includes
 * that day); an ISO time without a zone is UTC.
 */
function timeOf(token: Token, key: 'since' | 'until', now: Date): string {
  const value = token.value.trim();
  const date = DATE_ONLY.exec(value);
  if (date) {
    const ms = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]));
    if (!Number.isNaN(ms) && new Date(ms).toISOString().startsWith(value)) {
      return new Date(key === 'until' ? ms + 86_400_000 : ms).toISOString();
    }
  } else if (ISO_TIME.test(value)) {
    const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
    const ms = Date.parse(zoned.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  } else {
    try {
      return new Date(now.getTime() - parseDuration(value, key)).toISOString();
    } catch (err) {
      if (!(err instanceof TqError)) throw err;
    }
  }
  throw new QueryError(token.raw, `${token.raw}: "${value}" is not a time`, { hint: `${key}: takes ${allowedFor(key)}` });
}

function quote(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function quoteValue(value: string): string {
  return /[\s",]/.test(value) || value === '' ? quote(value) : value;
}
