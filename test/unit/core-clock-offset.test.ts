import { describe, expect, it } from 'vitest';
import { ClockSkewError, clockRefusal, clockWarning, describeOffset } from '../../src/core/clock-offset.js';
import { completedEvent } from '../../src/queue/worker/events.js';

describe('clock offset (server minus this host)', () => {
  it('describes the host relative to Redis', () => {
    expect(describeOffset(-3200)).toBe('3.2s ahead');
    expect(describeOffset(3_600_000)).toBe('1h 0m behind');
    expect(describeOffset(12)).toBe('12ms behind');
  });

  it('warns only past a second, in one line that names the fix', () => {
    expect(clockWarning(900)).toBeUndefined();
    expect(clockWarning(-1000)).toBeUndefined();
    expect(clockWarning(-3200)).toBe("this host's clock is 3.2s ahead of Redis's; delayed runs are promoted on workers' clocks: run NTP");
    expect(clockWarning(5000)).toMatch(/^this host's clock is 5\.0s behind Redis's;/);
  });

  it('refuses past the limit with exit 2 and a hint; Infinity never refuses', () => {
    expect(clockRefusal(-29_000, 30_000, 'worker')).toBeUndefined();
    const refusal = clockRefusal(-3_600_000, 30_000, 'worker');
    expect(refusal).toBeInstanceOf(ClockSkewError);
    expect(refusal?.exitCode).toBe(2);
    expect(refusal?.message).toBe("worker not started: this host's clock is 1h 0m ahead of Redis's (over worker.maxClockOffset, 30.0s)");
    expect(refusal?.hint).toMatch(/worker\.maxClockOffset/);
    expect(clockRefusal(-3_600_000, Number.POSITIVE_INFINITY, 'beat')).toBeUndefined();
  });
});

describe('worker events on the server clock', () => {
  it("moves BullMQ's worker-clock finishedOn by the offset", () => {
    const job = { id: '1', name: 't', queueName: 'default', attemptsMade: 1, opts: {}, processedOn: 10_000, finishedOn: 10_500 };
    const event = completedEvent(job, 'r', { worker: 'w', now: 99_999, offsetMs: -3_600_000 });
    expect(event.at).toBe(10_500 - 3_600_000);
    expect(event.runtimeMs).toBe(500);
  });
});
