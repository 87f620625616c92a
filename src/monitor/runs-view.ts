import type { RunFilter } from './filter.js';
import { scrollTo } from './layout.js';
import { mergePage, rowKey } from './run-list.js';
import { PAGE_SIZE, VIEW_CAP, type RowKey, type RunRow, type RunsState } from './state.js';

/**
 * The Runs panel's cursor: live at the top, frozen below it, paging through SQLite past either
 * end of what is in memory. Pure: a move that needs rows from SQLite returns a page request
 * for the controller to fulfil (the answer comes back as `receivePage`).
 */
export interface PageRequest {
  type: 'page';
  direction: 'older' | 'newer';
  key: RowKey;
  filter: RunFilter;
}

export type RunsMove = number | 'top' | 'bottom';

export function moveRuns(runs: RunsState, move: RunsMove, pageRows: number): { runs: RunsState; request?: PageRequest } {
  if (move === 'top') return { runs: goLive(runs) };
  const frozen = runs.frozen ?? runs.head;
  if (frozen.length === 0) return { runs };
  // Leaving the top row freezes the view: from now on rows keep their place under the cursor.
  const base: RunsState = runs.frozen
    ? runs
    : {
        ...runs,
        frozen: [...runs.head],
        newSinceFrozen: 0,
        olderExhausted: runs.headComplete,
        olderKey: undefined,
        newerDropped: false,
        newerKey: undefined,
      };
  const last = frozen.length - 1;
  const target = move === 'bottom' ? last : base.cursor + move;
  // The top row is the live position, unless newer rows were dropped: then page them back.
  if (target <= 0 && !base.newerDropped) return { runs: goLive(base) };
  if (target <= 0) {
    const moved = place({ ...base, cursor: 0 }, pageRows);
    if (base.loading || target >= 0) return { runs: moved };
    return {
      runs: { ...moved, loading: 'newer' },
      request: { type: 'page', direction: 'newer', key: base.newerKey ?? rowKey(frozen[0]!), filter: base.filter },
    };
  }
  if (target > last) {
    const moved = place({ ...base, cursor: last }, pageRows);
    if (base.olderExhausted || base.loading) return { runs: moved };
    return {
      runs: { ...moved, loading: 'older' },
      request: { type: 'page', direction: 'older', key: base.olderKey ?? rowKey(frozen[last]!), filter: base.filter },
    };
  }
  return { runs: place({ ...base, cursor: target }, pageRows) };
}

/** Back to the live head, cursor on the newest run. */
export function goLive(runs: RunsState): RunsState {
  return {
    ...runs,
    frozen: undefined,
    cursor: 0,
    offset: 0,
    newSinceFrozen: 0,
    newerDropped: false,
    loading: undefined,
    olderKey: undefined,
    newerKey: undefined,
  };
}

/** Keeps the cursor inside the list and visible. */
export function place(runs: RunsState, pageRows: number): RunsState {
  const rows = runs.frozen ?? runs.head;
  if (!runs.frozen) return runs.cursor === 0 && runs.offset === 0 ? runs : { ...runs, cursor: 0, offset: 0 };
  const cursor = Math.max(0, Math.min(runs.cursor, rows.length - 1));
  const offset = scrollTo(runs.offset, cursor, pageRows, rows.length);
  return cursor === runs.cursor && offset === runs.offset ? runs : { ...runs, cursor, offset };
}

/**
 * A page from SQLite arrived. Older pages go below the view, newer ones above it; the cursor
 * steps onto the first new row (the user asked to move there). The view never holds more than
 * VIEW_CAP rows: the far end is dropped and paged back in when the user returns to it.
 */
export function receivePage(runs: RunsState, direction: 'older' | 'newer', page: readonly RunRow[], pageRows: number): RunsState {
  if (!runs.frozen || runs.loading !== direction) return runs;
  let next: RunsState = { ...runs, loading: undefined };
  const edgeKey = page.length ? rowKey(direction === 'older' ? page[page.length - 1]! : page[0]!) : undefined;
  if (direction === 'older') {
    const { rows, added } = mergePage(runs.frozen, page, 'end');
    next = { ...next, frozen: rows, olderExhausted: page.length < PAGE_SIZE, olderKey: edgeKey ?? runs.olderKey };
    if (added > 0) next.cursor = runs.cursor + 1;
    if (rows.length > VIEW_CAP) {
      const drop = rows.length - VIEW_CAP;
      next = {
        ...next,
        frozen: rows.slice(drop),
        cursor: next.cursor - drop,
        offset: Math.max(0, next.offset - drop),
        newerDropped: true,
        newerKey: rowKey(rows[drop]!),
      };
    }
  } else {
    const { rows, added } = mergePage(runs.frozen, page, 'start');
    next = {
      ...next,
      frozen: rows,
      newerDropped: page.length >= PAGE_SIZE,
      newerKey: edgeKey ?? runs.newerKey,
      cursor: runs.cursor + added - (added > 0 ? 1 : 0),
      offset: runs.offset + added,
    };
    if (rows.length > VIEW_CAP) {
      const kept = rows.slice(0, VIEW_CAP);
      next = { ...next, frozen: kept, olderExhausted: false, olderKey: rowKey(kept[kept.length - 1]!) };
    }
  }
  return place(next, pageRows);
}
