import { compareStreamIds, type StreamInfo } from '../core/run-events.js';
import type { TaskLogger } from '../core/task.js';
import type { SqliteDatabase } from './database.js';
import { firstBefore, getMeta, setMeta } from './meta.js';

/** The meta keys of one recorder's stream position and counters. */
export interface StreamPositionKeys {
  lastId: string;
  applied: string;
  missed: string;
}

/**
 * Finds whether the stream was trimmed past the last applied id: those events are gone, so it
 * says how many (an estimate from the stream's own counter) instead of pretending, counts them
 * as seen and moves the position past the gap (in `write`, the caller's write transaction).
 * Returns how many entries were missed, or undefined when none were.
 */
export function recordStreamGap(
  db: SqliteDatabase,
  keys: StreamPositionKeys,
  info: StreamInfo,
  write: (fn: () => void) => void,
  logger: TaskLogger | undefined,
): number | undefined {
  const lastId = getMeta(db, keys.lastId) ?? '0-0';
  const firstId = info.firstId;
  if (!firstId) return undefined;
  // Nothing after our position was trimmed when the oldest entry left is at or before it.
  if (compareStreamIds(firstId, lastId) <= 0) return undefined;
  const applied = Number(getMeta(db, keys.applied) ?? '0');
  let estimate: number | undefined;
  if (info.entriesAdded !== undefined) {
    // Redis >= 7 counts every entry ever added: those neither kept nor seen by us were trimmed
    // before we read them. (XTRIM does not move max-deleted-entry-id, so that field cannot tell.)
    estimate = info.entriesAdded - info.length - applied;
    if (estimate <= 0) return undefined;
  } else if (compareStreamIds(firstBefore(firstId), lastId) <= 0) {
    return undefined;
  }
  const missed = estimate ?? 1;
  const since = lastId === '0-0' ? 'before this database existed' : `after ${new Date(Number(lastId.split('-')[0])).toISOString()}`;
  logger?.warn(
    `history: the run-event stream was trimmed ${since}; about ${estimate ?? 'an unknown number of'} batches of run events never reached this database (raise history.streamMaxLen or keep a tq process running on this host)`,
  );
  write(() => {
    setMeta(db, keys.missed, String(Number(getMeta(db, keys.missed) ?? '0') + missed));
    // Count the trimmed ones as seen so the estimate does not repeat.
    setMeta(db, keys.applied, String(applied + missed));
    setMeta(db, keys.lastId, firstBefore(firstId));
  });
  return missed;
}
