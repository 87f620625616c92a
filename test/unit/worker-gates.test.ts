import { describe, expect, it } from 'vitest';
import { admit, needsRateSlot, rateVerdict } from '../../src/queue/worker/gates.js';
import { UnknownTaskGrace } from '../../src/queue/worker/unknown-task.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('pre-run gates', () => {
  it('a cancel mark fails the run with the cancel reason, before expiry is looked at', () => {
    expect(admit({ cancelled: 'cancelled by user', expiresAt: NOW - 1, now: NOW })).toEqual({
      kind: 'fail',
      reason: 'Cancelled: cancelled by user',
    });
  });

  it('a run not started before it expired fails with how late it is', () => {
    expect(admit({ cancelled: undefined, expiresAt: NOW - 2500, now: NOW })).toEqual({
      kind: 'fail',
      reason: `Expired: not started before it expired at ${new Date(NOW - 2500).toISOString()} (2.5s late)`,
    });
    expect(admit({ cancelled: undefined, expiresAt: NOW, now: NOW })).toEqual({ kind: 'run' });
    expect(admit({ cancelled: undefined, expiresAt: undefined, now: NOW })).toEqual({ kind: 'run' });
  });

  it('a slot in the future parks the run until it; one within 5 ms runs now', () => {
    expect(rateVerdict(NOW + 100, NOW)).toEqual({ kind: 'park', slot: NOW + 100, waitMs: 100 });
    expect(rateVerdict(NOW + 5, NOW)).toEqual({ kind: 'run' });
  });

  it('a run parked for its slot does not reserve another once the slot has come', () => {
    expect(needsRateSlot(undefined, NOW)).toBe(true);
    expect(needsRateSlot(NOW + 100, NOW)).toBe(true);
    expect(needsRateSlot(NOW + 3, NOW)).toBe(false);
  });
});

describe('unknown-task grace', () => {
  it('parks runs within the grace (logging once per task), then fails them naming the known tasks', () => {
    const lines: string[] = [];
    const grace = new UnknownTaskGrace(60_000, () => ['resize', 'hello'], { info: () => undefined, warn: (l) => lines.push(l) });
    const run = { task: 'newer', queue: 'default', enqueuedAt: NOW, canPark: true };
    expect(grace.verdict(run, NOW + 1000)).toEqual({ kind: 'park', dueAt: NOW + 1000 + 6000 });
    expect(grace.verdict(run, NOW + 58_000)).toEqual({ kind: 'park', dueAt: NOW + 58_000 + 2000 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('unknown task "newer" in queue "default" (this worker knows: hello, resize)');
    expect(grace.verdict(run, NOW + 60_000)).toEqual({
      kind: 'fail',
      reason: 'unknown task "newer": no worker knew it within 1m 0s (known here: hello, resize)',
    });
  });

  it('a run the worker cannot put back fails at once', () => {
    const grace = new UnknownTaskGrace(60_000, () => [], { info: () => undefined, warn: () => undefined });
    expect(grace.verdict({ task: 'x', queue: 'q', enqueuedAt: NOW, canPark: false }, NOW).kind).toBe('fail');
  });
});
