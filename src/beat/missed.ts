/**
 * The missed-run policy, pure: given the fire times that are due, which to enqueue.
 *
 * A due fire time is *on time* when beat gets to it within its on-time window (half the gap to
 * the next fire time, at most a minute: a running beat wakes within milliseconds of it); any
 * other due fire time was *missed* (no beat was running, or Redis was away).
 * - skip:   enqueue only an on-time fire time; missed ones are dropped.
 * - latest: enqueue the latest due fire time (on time or not), once; older ones are dropped.
 * - all:    enqueue every due fire time, oldest first, at most the latest `MISSED_ALL_CAP`.
 * Whatever the policy, the cursor then moves to the latest due fire time: nothing older is ever
 * looked at again.
 */
import type { MissedPolicy } from '../core/task.js';
import type { DueFireTimes } from './schedule.js';

/** `missed: 'all'` enqueues at most this many runs of one schedule in one catch-up. */
export const MISSED_ALL_CAP = 100;
const MAX_ON_TIME_WINDOW_MS = 60_000;

/** How late a fire time may be handled and still count as on time. */
export function onTimeWindow(fireMs: number, nextMs: number | undefined): number {
  if (nextMs === undefined) return MAX_ON_TIME_WINDOW_MS;
  return Math.min(MAX_ON_TIME_WINDOW_MS, (nextMs - fireMs) / 2);
}

/** How many due fire times `dueFireTimes` must keep for a policy. */
export function keepFor(policy: MissedPolicy, cap = MISSED_ALL_CAP): number {
  return policy === 'all' ? cap : 1;
}

export interface DueSelection {
  /** Fire times to enqueue, ascending. */
  readonly dispatch: readonly number[];
  /** Where the cursor moves (the latest due fire time); undefined when nothing is due. */
  readonly advanceTo: number | undefined;
  /** Due fire times that were not on time (a lower bound when `exact` is false). */
  readonly missed: number;
  /** Due fire times that will never be enqueued (policy, cap or a disabled schedule). */
  readonly dropped: number;
  readonly exact: boolean;
}

export function selectDue(
  due: DueFireTimes,
  now: number,
  policy: MissedPolicy,
  options: { enabled?: boolean; cap?: number } = {},
): DueSelection {
  const latest = due.times[due.times.length - 1];
  if (latest === undefined || due.count === 0) return { dispatch: [], advanceTo: undefined, missed: 0, dropped: 0, exact: true };
  const onTime = now - latest <= onTimeWindow(latest, due.next);
  const missed = due.count - (onTime ? 1 : 0);
  let dispatch: number[];
  if (options.enabled === false) dispatch = [];
  else if (policy === 'skip') dispatch = onTime ? [latest] : [];
  else if (policy === 'latest') dispatch = [latest];
  else dispatch = due.times.slice(-(options.cap ?? MISSED_ALL_CAP));
  return { dispatch, advanceTo: latest, missed, dropped: due.count - dispatch.length, exact: due.exact };
}
