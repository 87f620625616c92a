import { describe, expect, it } from 'vitest';
import { completedEvent, failureEvent, type JobFacts } from '../../src/queue/worker/events.js';

const NOW = 1_700_000_000_000;

function job(overrides: Partial<JobFacts> = {}): JobFacts {
  return { id: 'r1', name: 'hello', queueName: 'default', attemptsMade: 1, opts: { attempts: 3 }, processedOn: NOW - 50, ...overrides };
}

const named = (name: string, message: string, stack?: string) => ({ name, message, ...(stack ? { stack } : {}) });

describe('completedEvent', () => {
  it('carries the result, the attempt, the runtime BullMQ measured and when the handler started', () => {
    const event = completedEvent(job({ finishedOn: NOW }), { ok: true }, { worker: 'w1', startedAt: NOW - 49, now: NOW + 5 });
    expect(event).toEqual({
      type: 'completed',
      jobId: 'r1',
      task: 'hello',
      queue: 'default',
      at: NOW,
      attempt: 1,
      worker: 'w1',
      result: { ok: true },
      runtimeMs: 50,
      startedAt: NOW - 49,
    });
  });

  it('falls back to the worker clock and attempt 1 when BullMQ has not stamped the job', () => {
    const event = completedEvent(job({ attemptsMade: 0, processedOn: undefined }), null, { worker: 'w1', now: NOW });
    expect(event).toMatchObject({ at: NOW, attempt: 1 });
    expect(event).not.toHaveProperty('runtimeMs');
    expect(event).not.toHaveProperty('startedAt');
  });
});

describe('failureEvent', () => {
  it('a failed attempt with attempts left is retrying, due when the backoff said, without a stack', () => {
    const event = failureEvent(job(), named('Error', 'boom', 'Error: boom\n  at x'), {
      worker: 'w1',
      startedAt: NOW - 50,
      dueAt: NOW + 1000,
      now: NOW,
    });
    expect(event).toEqual({
      type: 'retrying',
      jobId: 'r1',
      task: 'hello',
      queue: 'default',
      at: NOW,
      attempt: 1,
      worker: 'w1',
      error: 'boom',
      runtimeMs: 50,
      startedAt: NOW - 50,
      dueAt: NOW + 1000,
    });
  });

  it('the last attempt fails the run and keeps the stack', () => {
    const event = failureEvent(job({ attemptsMade: 3, finishedOn: NOW }), named('Error', 'boom', 'Error: boom\n  at x'), {
      worker: 'w1',
      dueAt: NOW + 1000,
      now: NOW,
    });
    expect(event).toMatchObject({ type: 'failed', attempt: 3, error: 'boom', stack: 'Error: boom\n  at x', runtimeMs: 50 });
    expect(event).not.toHaveProperty('dueAt');
  });

  it('an UnrecoverableError is final whatever the attempts; the stack falls back to the job stacktrace', () => {
    const event = failureEvent(job({ stacktrace: ['first', 'last'] }), named('UnrecoverableError', 'corrupt'), { worker: 'w1', now: NOW });
    expect(event).toMatchObject({ type: 'failed', error: 'corrupt', stack: 'last' });
  });

  it('the reason prefix names the final state: cancelled and expired, without a stack', () => {
    const cancelled = failureEvent(job(), named('UnrecoverableError', 'Cancelled: cancelled by user', 's'), { worker: 'w1', now: NOW });
    const expired = failureEvent(job({ processedOn: undefined }), named('UnrecoverableError', 'Expired: not started before ...', 's'), {
      worker: 'w1',
      now: NOW,
    });
    expect(cancelled).toMatchObject({ type: 'cancelled', error: 'Cancelled: cancelled by user' });
    expect(cancelled).not.toHaveProperty('stack');
    expect(expired).toMatchObject({ type: 'expired' });
    expect(expired).not.toHaveProperty('runtimeMs');
  });

  it('a job BullMQ already finished is final even with attempts left', () => {
    expect(failureEvent(job({ finishedOn: NOW }), named('Error', 'x'), { worker: 'w1', now: NOW })?.type).toBe('failed');
  });

  it('a parked run (DelayedError) is no failure at all', () => {
    expect(failureEvent(job(), named('DelayedError', ''), { worker: 'w1', now: NOW })).toBeUndefined();
  });

  it('a run without an attempts option has one attempt', () => {
    expect(failureEvent(job({ opts: {} }), named('Error', 'x'), { worker: 'w1', now: NOW })?.type).toBe('failed');
  });
});
