import { describe, expect, it } from 'vitest';
import { keepFor, MISSED_ALL_CAP, onTimeWindow, selectDue } from '../../src/beat/missed.js';
import { dueFireTimes, resolveSchedule } from '../../src/beat/schedule.js';
import type { MissedPolicy } from '../../src/core/task.js';

const MIN = 60_000;
const T0 = Date.parse('2026-01-01T12:00:00Z');
const every = resolveSchedule('s', { task: 't', every: '1m' }, 'UTC');

/** What beat would enqueue after being down since T0, woken at `now`. */
function select(policy: MissedPolicy, now: number, options: { enabled?: boolean; cap?: number } = {}) {
  const due = dueFireTimes(every, T0, now, keepFor(policy, options.cap));
  return selectDue(due, now, policy, options);
}

describe('selectDue: the missed-run policy', () => {
  it('beat stopped for 3 periods: latest enqueues the last one, all three, skip none', () => {
    const now = T0 + 3 * MIN + 40_000;
    expect(select('latest', now)).toMatchObject({ dispatch: [T0 + 3 * MIN], advanceTo: T0 + 3 * MIN, missed: 3, dropped: 2 });
    expect(select('all', now)).toMatchObject({ dispatch: [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN], missed: 3, dropped: 0 });
    expect(select('skip', now)).toMatchObject({ dispatch: [], advanceTo: T0 + 3 * MIN, missed: 3, dropped: 3 });
  });

  it('a running beat that wakes on time enqueues the fire time under every policy', () => {
    for (const policy of ['skip', 'latest', 'all'] as const) {
      expect(select(policy, T0 + MIN + 5)).toEqual({ dispatch: [T0 + MIN], advanceTo: T0 + MIN, missed: 0, dropped: 0, exact: true });
    }
  });

  it('under skip, a fire time is on time up to half a period late (a minute at most)', () => {
    expect(onTimeWindow(T0, T0 + MIN)).toBe(30_000);
    expect(onTimeWindow(T0, T0 + 86_400_000)).toBe(60_000);
    expect(onTimeWindow(T0, undefined)).toBe(60_000);
    expect(select('skip', T0 + MIN + 30_000).dispatch).toEqual([T0 + MIN]);
    expect(select('skip', T0 + MIN + 30_001).dispatch).toEqual([]);
  });

  it('all is capped: only the latest `cap` fire times are enqueued', () => {
    const now = T0 + 250 * MIN + 1;
    const s = select('all', now);
    expect(s.dispatch).toHaveLength(MISSED_ALL_CAP);
    expect(s.dispatch[0]).toBe(T0 + 151 * MIN);
    expect(s.dispatch.at(-1)).toBe(T0 + 250 * MIN);
    expect(s).toMatchObject({ missed: 249, dropped: 150, advanceTo: T0 + 250 * MIN });
    expect(select('all', now, { cap: 2 }).dispatch).toEqual([T0 + 249 * MIN, T0 + 250 * MIN]);
  });

  it('a disabled schedule enqueues nothing but its cursor still follows the clock', () => {
    expect(select('all', T0 + 3 * MIN + 1, { enabled: false })).toMatchObject({ dispatch: [], advanceTo: T0 + 3 * MIN, dropped: 3 });
  });

  it('nothing due: nothing to do', () => {
    expect(select('latest', T0 + MIN - 1)).toEqual({ dispatch: [], advanceTo: undefined, missed: 0, dropped: 0, exact: true });
  });
});
