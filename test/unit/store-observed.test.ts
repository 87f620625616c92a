import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/run-events.js';
import { placeObserved, type KnownRun } from '../../src/store/observed.js';

const T = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const seen = (type: RunEvent['type'], at: number, extra: Partial<RunEvent> = {}): RunEvent => ({
  type,
  jobId: 'j',
  task: 't',
  queue: 'q',
  at,
  attempt: 0,
  observed: {},
  ...extra,
});
const row = (state: KnownRun['state'], attempt: number, times: Partial<KnownRun> = {}): KnownRun => ({
  state,
  attempt,
  enqueued_at: iso(T),
  started_at: null,
  finished_at: null,
  errors: null,
  moved_at: null,
  ...times,
});

describe("placing BullMQ's own events against history", () => {
  it('numbers starts the way BullMQ counts them', () => {
    expect(placeObserved(undefined, seen('active', T + 1))?.event.attempt).toBe(1);
    expect(placeObserved(row('waiting', 0), seen('active', T + 1))?.event.attempt).toBe(1);
    // After a failed attempt: the next one.
    expect(placeObserved(row('retrying', 1, { started_at: iso(T + 1) }), seen('active', T + 5))?.event.attempt).toBe(2);
    // tq's own start came first: the same attempt.
    expect(placeObserved(row('active', 1, { started_at: iso(T + 1) }), seen('active', T + 1))?.event.attempt).toBe(1);
  });

  it('a start BullMQ saw before tq handed the run back is old news (the row waits, same attempt)', () => {
    // tq: active(1) at T+1, handed back (requeued) at T+10: started_at cleared, moved_at kept.
    const handedBack = row('waiting', 1, { moved_at: T + 10 });
    expect(placeObserved(handedBack, seen('active', T + 1))).toBeUndefined();
    expect(placeObserved(handedBack, seen('active', T + 20))?.event.attempt).toBe(2);
  });

  it('drops moves older than what history saw, and anything for a finished run but a later retry', () => {
    const running = row('active', 2, { started_at: iso(T + 100) });
    expect(placeObserved(running, seen('active', T + 50))).toBeUndefined();
    expect(placeObserved(running, seen('delayed', T + 60, { dueAt: T + 1000 }))).toBeUndefined();
    const done = row('completed', 1, { started_at: iso(T + 1), finished_at: iso(T + 10) });
    expect(placeObserved(done, seen('completed', T + 10))).toBeUndefined();
    expect(placeObserved(done, seen('retried', T + 5, { observed: { prev: 'completed' } }))).toBeUndefined();
    expect(placeObserved(done, seen('retried', T + 20, { observed: { prev: 'completed' } }))).toMatchObject({
      force: 'waiting',
      reopen: true,
      event: { attempt: 1 },
    });
  });

  it('a real end replaces lost', () => {
    const lost = row('lost', 1, { started_at: iso(T + 1), moved_at: T + 60_000 });
    expect(placeObserved(lost, seen('completed', T + 70_000, { result: 1 }))?.event).toMatchObject({ type: 'completed', attempt: 1 });
  });

  it('reads a delay while running as a retry, a promotion as waiting, a removal as cancelled', () => {
    const running = row('active', 1, { started_at: iso(T + 1) });
    expect(placeObserved(running, seen('delayed', T + 9, { dueAt: T + 5000 }))?.event).toMatchObject({
      type: 'retrying',
      attempt: 1,
      dueAt: T + 5000,
    });
    const delayed = row('delayed', 0);
    expect(placeObserved(delayed, seen('delayed', T + 9, { observed: { prev: 'delayed' } }))).toMatchObject({ force: 'waiting' });
    expect(placeObserved(delayed, seen('cancelled', T + 9, { observed: { prev: 'delayed' } }))).toMatchObject({ force: 'cancelled' });
    expect(
      placeObserved(row('failed', 1, { finished_at: iso(T + 3) }), seen('cancelled', T + 9, { observed: { prev: 'failed' } })),
    ).toBeUndefined();
  });
});
