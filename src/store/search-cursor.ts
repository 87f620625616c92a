import { UsageError } from '../core/errors.js';

/**
 * A search page's position, opaque to callers: the sort and order it belongs to, the last row's
 * sort value (null: it was among the rows without one) and its rowid (the tie-break).
 */
export type SearchSort = 'enqueued' | 'finished' | 'runtime';
export type SearchOrder = 'asc' | 'desc';

export interface Cursor {
  sort: SearchSort;
  order: SearchOrder;
  /** The last row's sort value (null: it was among the rows without one). */
  value: string | number | null;
  rowid: number;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.sort, c.order, c.value, c.rowid])).toString('base64url');
}

export function decodeCursor(text: string, sort: SearchSort, order: SearchOrder): Cursor {
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
