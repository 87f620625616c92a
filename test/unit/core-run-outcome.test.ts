import { describe, expect, it } from 'vitest';
import { FatalTaskError, UsageError } from '../../src/core/errors.js';
import { cancelReason, failureState, judgeFailure, RunAborted, timeLimitReason, TIME_LIMIT } from '../../src/core/run-outcome.js';

const named = (name: string) => Object.assign(new Error(name), { name });

describe('judgeFailure', () => {
  const noWarn = (line: string) => {
    throw new Error(`unexpected warning: ${line}`);
  };

  it('FatalTaskError, UnrecoverableError and UsageError are final; an abort is final', () => {
    for (const err of [
      new FatalTaskError('x'),
      named('UnrecoverableError'),
      new UsageError('bad'),
      new RunAborted(TIME_LIMIT, timeLimitReason(1000)),
    ]) {
      expect(judgeFailure(err, { name: 't', retryOn: () => true }, noWarn).final).toBe(true);
    }
  });

  it('any other error is worth another attempt unless retryOn says no', () => {
    expect(judgeFailure(new Error('x'), { name: 't' }, noWarn).final).toBe(false);
    expect(judgeFailure(new Error('x'), { name: 't', retryOn: (e) => (e as Error).message === 'y' }, noWarn).final).toBe(true);
  });

  it('a thrown non-Error becomes an Error with its text', () => {
    const verdict = judgeFailure('plain', { name: 't' }, noWarn);
    expect(verdict.error).toBeInstanceOf(Error);
    expect(verdict.error.message).toBe('plain');
  });

  it('a retryOn that throws makes the failure final and warns once naming the task', () => {
    const lines: string[] = [];
    const verdict = judgeFailure(
      new Error('x'),
      {
        name: 'flaky',
        retryOn: () => {
          throw new Error('retryOn bug');
        },
      },
      (l) => lines.push(l),
    );
    expect(verdict.final).toBe(true);
    expect(lines).toEqual(['flaky: retryOn threw (retryOn bug); not retrying']);
  });
});

describe('reason texts', () => {
  it('the time limit reads as a human duration', () => {
    expect(timeLimitReason(120_000)).toBe('TimeLimitExceeded: run exceeded its 2m 0s time limit');
    expect(timeLimitReason(150)).toBe('TimeLimitExceeded: run exceeded its 0.15s time limit');
  });

  it('the reason prefix names the state', () => {
    expect(failureState(cancelReason())).toBe('cancelled');
    expect(failureState('Expired: late')).toBe('expired');
    expect(failureState(timeLimitReason(1000))).toBe('failed');
    expect(failureState(undefined)).toBe('failed');
  });
});
