import { UsageError } from '../../core/errors.js';
import { EMPTY_QUERY, allOf, parseQuery, type HistoryQuery } from '../../core/query.js';
import type { TaskState } from '../../core/states.js';
import type { SearchOptions, SearchOrder, SearchSort } from '../../store/index.js';

/**
 * `tq inspect history`'s flags as one history query: `--state`, `--task`, `--queue` and
 * `--since` are terms like those of `--search`, and must all hold together with it.
 */
export function historyQueryOf(
  f: { state?: TaskState; task?: string; queue?: string; since?: string; search?: string },
  now = new Date(),
): HistoryQuery {
  const flags: HistoryQuery = {
    ...EMPTY_QUERY,
    states: f.state ? [f.state] : [],
    tasks: f.task ? [f.task] : [],
    queues: f.queue ? [f.queue] : [],
    ...(f.since ? { since: f.since } : {}),
  };
  return f.search ? allOf(flags, parseQuery(f.search, now)) : flags;
}

const SORTS: readonly SearchSort[] = ['enqueued', 'finished', 'runtime'];
const ORDERS: readonly SearchOrder[] = ['desc', 'asc'];

/** `--sort`, `--order`, `--cursor` and the limit as search options; bad values are usage errors. */
export function historyPaging(o: { sort?: string; order?: string; cursor?: string }, limit: number): SearchOptions {
  if (o.sort !== undefined && !(SORTS as readonly string[]).includes(o.sort)) {
    throw new UsageError(`--sort "${o.sort}" is not a sort (one of ${SORTS.join(', ')})`);
  }
  if (o.order !== undefined && !(ORDERS as readonly string[]).includes(o.order)) {
    throw new UsageError(`--order "${o.order}" is not an order (asc or desc)`);
  }
  return {
    limit,
    ...(o.sort ? { sort: o.sort as SearchSort } : {}),
    ...(o.order ? { order: o.order as SearchOrder } : {}),
    ...(o.cursor ? { cursor: o.cursor } : {}),
  };
}
