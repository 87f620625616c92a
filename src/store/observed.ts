import type { RunEvent } from '../core/run-events.js';
import { FINAL_STATES, type TaskState } from '../core/states.js';

/** What history knows of a run (the row's state and attempt, and when it finished). */
export interface KnownRun {
  state: TaskState;
  attempt: number;
  enqueued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** JSON array of `{ attempt, error, at }`. */
  errors: string | null;
  /** Event time of the last state move (epoch ms). */
  moved_at: number | null;
}

/** When history last saw the run move (epoch ms): its last state move, enqueue, start, failed attempt or end. */
export function lastMoved(row: KnownRun): number {
  let last = row.moved_at ?? Number.NEGATIVE_INFINITY;
  for (const t of [row.enqueued_at, row.started_at, row.finished_at]) if (t) last = Math.max(last, Date.parse(t));
  if (row.errors) for (const e of JSON.parse(row.errors) as { at: string }[]) last = Math.max(last, Date.parse(e.at));
  return last;
}

/** An observed event placed against the row: the event to apply, and a state it moves to whatever the phase rule says. */
export interface PlacedEvent {
  event: RunEvent;
  /** Move to this state even where `supersedes` would refuse (promotion, removal, reopening). */
  force?: TaskState;
  /** The move reopens a finished run (a retry): its start, end and result are cleared. */
  reopen?: boolean;
}

const PENDING: ReadonlySet<TaskState> = new Set(['waiting', 'delayed', 'retrying']);

/**
 * Places an event seen in BullMQ's own stream of the queue (see `RunEvent.observed`) against what
 * history knows of the run, or drops it (undefined) when it says nothing new. BullMQ's entries
 * carry no attempt number; the attempt follows from the row, the way BullMQ counts starts:
 * a start after a pending state is the next attempt (the first for a run never started), a
 * start or an end while the row is running belongs to that attempt. tq's own events are applied
 * first (the recorder reads BullMQ's streams a moment behind), so this mostly confirms them; it
 * decides for runs no tq process moved: a plain BullMQ worker's, or an operator's in bull-board.
 */
export function placeObserved(row: KnownRun | undefined, event: RunEvent): PlacedEvent | undefined {
  const { observed: _observed, ...plain } = event;
  const known = row?.attempt ?? 0;
  // A move older than what history already saw of the run is old news: tq's own event of it
  // came first (with more to say: worker, runtime, attempt), or a later move replaced it.
  const moves = event.type !== 'enqueued' && event.type !== 'progress' && event.type !== 'retried';
  if (moves && row && event.at < lastMoved(row)) return undefined;
  // `lost` is not final: a real move seen later replaces it.
  const final = row !== undefined && FINAL_STATES.has(row.state);
  // The attempt a start seen now belongs to.
  const started = (): number => {
    if (!row) return Math.max(1, event.attempt);
    if (row.state === 'active' || row.state === 'lost' || final) return Math.max(1, known);
    return known + 1;
  };
  switch (event.type) {
    case 'enqueued':
      return { event: { ...plain, attempt: 0 } };
    case 'progress':
      return { event: plain };
    case 'active':
      return final ? undefined : { event: { ...plain, attempt: started() } };
    case 'completed':
    case 'failed':
    case 'cancelled':
    case 'expired':
      if (event.observed?.prev !== undefined && event.type === 'cancelled') {
        // Removed before it ended (a delayed run deleted in bull-board): it ends `cancelled`.
        if (final) return undefined;
        const at = row ? known : 0;
        return { event: { ...plain, attempt: at }, force: 'cancelled' };
      }
      return final ? undefined : { event: { ...plain, attempt: started() } };
    case 'delayed': {
      if (final) return undefined;
      if (event.observed?.prev !== undefined) {
        // Promoted (or due now): a delayed run is waiting from here.
        return row?.state === 'delayed' ? { event: { ...plain, attempt: known }, force: 'waiting' } : undefined;
      }
      // Put back for later while running: a failed attempt BullMQ will retry after a backoff.
      if (row?.state === 'active') return { event: { ...plain, type: 'retrying', attempt: known } };
      const { error: _error, ...noError } = plain;
      return { event: { ...noError, attempt: known } };
    }
    case 'requeued':
      // Handed back while active (a stopping worker, a stall, a plain worker's immediate retry).
      return row?.state === 'active' ? { event: { ...plain, attempt: known } } : undefined;
    case 'retried': {
      // Retried by an operator after it ended: reopens the row, unless the row already shows
      // an end later than the retry (the retried attempt has ended too: this is old news).
      if (!row || !final) return undefined;
      const finishedAt = row.finished_at ? Date.parse(row.finished_at) : Number.NEGATIVE_INFINITY;
      if (!(event.at > finishedAt)) return undefined;
      return { event: { ...plain, attempt: known }, force: 'waiting', reopen: true };
    }
    default:
      return PENDING.has(event.type as TaskState) ? { event: plain } : undefined;
  }
}
