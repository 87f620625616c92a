import { describe, expect, it } from 'vitest';
import { markVerdict, MAX_WORKER_ENDS, restartedAfterLoss } from '../../src/queue/worker/run-watch.js';
import { parseMark } from '../../src/queue/run-marks.js';

describe('run watch: runs whose execution ended their worker', () => {
  it('reads marks only for runs started more often than their attempts account for', () => {
    expect(restartedAfterLoss({ attemptsStarted: 1, attemptsMade: 0 })).toBe(false);
    // A retry after a failed attempt is ordinary.
    expect(restartedAfterLoss({ attemptsStarted: 2, attemptsMade: 1 })).toBe(false);
    // A start that never reported an outcome (crash, stall, hand-back) before this one.
    expect(restartedAfterLoss({ attemptsStarted: 2, attemptsMade: 0 })).toBe(true);
  });
  it('runs again once, fails after MAX_WORKER_ENDS, fails at once for a final mark', () => {
    expect(markVerdict(undefined)).toEqual({ kind: 'run' });
    expect(markVerdict({ count: 1, final: false, reason: 'r' })).toEqual({
      kind: 'run',
      note: 'its previous execution ended its worker (r); running it once more',
    });
    expect(markVerdict({ count: MAX_WORKER_ENDS, final: false, reason: 'r' })).toEqual({
      kind: 'fail',
      reason: `its executions ended their worker ${MAX_WORKER_ENDS} times: r`,
    });
    expect(markVerdict({ count: 1, final: true, reason: 'TimeLimitExceeded: x' })).toEqual({
      kind: 'fail',
      reason: 'TimeLimitExceeded: x',
    });
  });
  it('parses the stored mark, and nothing else', () => {
    expect(parseMark('2|0|blocked: a|b')).toEqual({ count: 2, final: false, reason: 'blocked: a|b' });
    expect(parseMark('1|1|TimeLimitExceeded: y')).toEqual({ count: 1, final: true, reason: 'TimeLimitExceeded: y' });
    expect(parseMark('garbage')).toBeUndefined();
    expect(parseMark(null)).toBeUndefined();
  });
});
