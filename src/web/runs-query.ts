/**
 * The runs list and the bulk actions' selection: a history query (`q=`, the query language of
 * core/query.ts, searched through the store's full-text index), a sort and a keyset cursor.
 * Everything in `src/web` reaches history search through these three functions.
 */
import { parseQuery } from '../core/query.js';
import type { Store, TaskRunRow } from '../store/index.js';
import { HistoryQueries } from '../store/index.js';

export const RUN_SORTS = ['enqueued', 'finished', 'runtime'] as const;
export type RunSort = (typeof RUN_SORTS)[number];

export interface RunsPage {
  rows: TaskRunRow[];
  /** The cursor of the next page; null on the last one. */
  nextCursor: string | null;
}

const queries = new WeakMap<Store, HistoryQueries>();
const historyOf = (store: Store) => {
  let h = queries.get(store);
  if (!h) queries.set(store, (h = new HistoryQueries(store.db, store.prefix)));
  return h;
};

/**
 * One page of the runs matching `q`, newest (or longest) first; runs without the sort value
 * (not finished yet, for `finished` and `runtime`) come last. A bad query is an `E_QUERY` error
 * naming the token.
 */
export function findRuns(
  store: Store,
  q: string | undefined,
  options: { sort: RunSort; order?: 'asc' | 'desc'; cursor?: string; limit: number },
): RunsPage {
  const page = historyOf(store).search(parseQuery(q ?? ''), {
    sort: options.sort,
    order: options.order ?? 'desc',
    limit: options.limit,
    countUpTo: 0,
    ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
  });
  return { rows: page.rows, nextCursor: page.nextCursor };
}

/** How many runs match `q` (exactly), and the first `sample` of them (a bulk action's dry run). */
export function countRuns(store: Store, q: string | undefined, sample: number): { count: number; sample: TaskRunRow[] } {
  const count = historyOf(store).totalsByState(parseQuery(q ?? '')).total;
  return { count, sample: sample > 0 ? findRuns(store, q, { sort: 'enqueued', limit: sample }).rows : [] };
}

/**
 * The ids of the runs matching `q`, `chunk` at a time, oldest first by key: each run is visited
 * once even when the action changes its state (and so whether it matches) meanwhile, since the
 * cursor only moves forward.
 */
export function* eachRunId(store: Store, q: string | undefined, chunk: number): Generator<string[]> {
  let cursor: string | undefined;
  for (;;) {
    const page = findRuns(store, q, { sort: 'enqueued', order: 'asc', limit: chunk, ...(cursor ? { cursor } : {}) });
    if (page.rows.length > 0) yield page.rows.map((r) => r.job_id);
    if (!page.nextCursor) return;
    cursor = page.nextCursor;
  }
}
