import { compareStreamIds, type StreamEntry, type StreamInfo } from '../core/run-events.js';

/**
 * Where the monitor is in the run-event stream. The stream is capped (approximate MAXLEN), so
 * a monitor that was away long enough (Redis down, laptop asleep, a burst bigger than the cap)
 * can come back to find the events after its position trimmed. It must say so and reload from
 * SQLite rather than show a list with a silent hole in it.
 */
export interface StreamCursor {
  /** The last stream id read ('0-0' before any). */
  lastId: string;
  /** Entries ever added to the stream up to and including `lastId` (Redis >= 7), when known. */
  addedUpTo: number | undefined;
}

/** A cursor at the stream's current end: only what happens from now on is read. */
export function cursorAtEnd(info: StreamInfo): StreamCursor {
  return { lastId: info.lastId ?? '0-0', addedUpTo: info.entriesAdded };
}

export function advance(cursor: StreamCursor, entries: readonly StreamEntry[]): StreamCursor {
  const last = entries[entries.length - 1];
  if (!last) return cursor;
  return { lastId: last.id, addedUpTo: cursor.addedUpTo === undefined ? undefined : cursor.addedUpTo + entries.length };
}

export interface StreamGap {
  /** Events trimmed before the monitor read them; undefined when Redis cannot tell (< 7). */
  missed: number | undefined;
}

/** Whether entries after the cursor were trimmed away. */
export function findGap(cursor: StreamCursor, info: StreamInfo): StreamGap | undefined {
  if (!info.firstId) return undefined;
  // The oldest entry left is at or before our position: nothing after it was trimmed.
  if (compareStreamIds(info.firstId, cursor.lastId) <= 0) return undefined;
  if (info.entriesAdded !== undefined && cursor.addedUpTo !== undefined) {
    // Entries added before the oldest one left, minus those we read: trimmed unread.
    const missed = info.entriesAdded - info.length - cursor.addedUpTo;
    return missed > 0 ? { missed } : undefined;
  }
  return { missed: undefined };
}

export function gapText(gap: StreamGap): string {
  const what = gap.missed === undefined ? 'some run events' : `${gap.missed} batch(es) of run events`;
  return `the run-event stream was trimmed past this monitor's position: ${what} never reached it; reloaded the runs from the SQLite history`;
}
