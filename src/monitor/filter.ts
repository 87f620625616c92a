import { EMPTY_QUERY, formatQuery, isEmptyQuery, parseQuery, type HistoryQuery } from '../core/query.js';
import type { TaskState } from '../core/states.js';

/**
 * The Runs panel's filter, typed after `/`: a history query (core/query.ts), the same language
 * as `tq inspect history --search`: `state:failed task:resize queue:images error:timeout
 * payload.user:42 since:1h`, and free words.
 *
 * The list is read from SQLite with the whole query (free text through the search index), then
 * kept live from run events. A live event is matched on what the monitor sees of the run:
 * - a run already listed (it matched in SQLite) stays while its state and worker still match:
 *   its payload, task and text do not change, so they are not asked again;
 * - a run new to the list must match every term the monitor can check: states, tasks, queues,
 *   workers, ids, since/until (against when it changed), error text in its last error, payload
 *   terms and free words in its payload (known from its `enqueued` event), task, id, queue,
 *   worker and error, as case-insensitive substrings. A run whose payload the monitor has not
 *   seen does not match a payload term (the next reseed from SQLite brings it if it should).
 */
export interface RunFilter {
  query: HistoryQuery;
  /** The query as typed (normalised), shown in the panel title. */
  text: string;
}

export const NO_FILTER: RunFilter = { query: EMPTY_QUERY, text: '' };

/** Parses the typed filter; a bad one throws the query's `QueryError` (shown on the status line). */
export function parseFilter(text: string, now: Date = new Date()): RunFilter {
  const query = parseQuery(text, now);
  return { query, text: text.trim().split(/\s+/).filter(Boolean).join(' ') };
}

/** The filter that keeps one queue's runs (the Queues panel's Enter). */
export function queueFilter(queue: string): RunFilter {
  const query: HistoryQuery = { ...EMPTY_QUERY, queues: [queue] };
  return { query, text: formatQuery(query) };
}

export function isFiltering(filter: RunFilter): boolean {
  return !isEmptyQuery(filter.query);
}

export interface LiveRun {
  id: string;
  task: string;
  queue: string;
  state: TaskState;
  /** When it last changed (epoch ms). */
  changedAt: number;
  worker?: string | undefined;
  error?: string | undefined;
}

export interface MatchContext {
  /** The run is in the list already (it matched when read): only what moves is checked again. */
  listed?: boolean;
  /** The run's payload, when an event carried it. */
  payload?: unknown;
}

export function matchesFilter(filter: RunFilter, run: LiveRun, context: MatchContext = {}): boolean {
  const q = filter.query;
  if (q.states.length && !q.states.includes(run.state)) return false;
  if (q.workers.length && run.worker !== undefined && !q.workers.some((w) => run.worker!.startsWith(w))) return false;
  if (context.listed) return true;
  if (q.workers.length && run.worker === undefined) return false;
  if (q.tasks.length && !q.tasks.includes(run.task)) return false;
  if (q.queues.length && !q.queues.includes(run.queue)) return false;
  if (q.ids.length && !q.ids.some((id) => run.id.startsWith(id))) return false;
  if (q.since !== undefined && run.changedAt < Date.parse(q.since)) return false;
  if (q.until !== undefined && run.changedAt >= Date.parse(q.until)) return false;
  if (q.errors.length && !q.errors.some((e) => contains(run.error, e))) return false;
  if (q.payload.length && !q.payload.every((p) => p.values.some((v) => payloadAt(context.payload, p.path) === v))) return false;
  if (q.text.length) {
    const haystack = [
      run.task,
      run.id,
      run.queue,
      run.worker,
      run.error,
      context.payload === undefined ? undefined : JSON.stringify(context.payload),
    ];
    if (!q.text.every((t) => haystack.some((h) => contains(h, t)))) return false;
  }
  return true;
}

function contains(text: string | undefined, needle: string): boolean {
  return text !== undefined && text.toLowerCase().includes(needle.toLowerCase());
}

/** The payload's value at `path` as text (a number or boolean as written), undefined when absent. */
function payloadAt(payload: unknown, path: readonly string[]): string | undefined {
  let at: unknown = payload;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean' ? String(at) : undefined;
}
