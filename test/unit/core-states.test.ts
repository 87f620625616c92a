import { describe, expect, it } from 'vitest';
import { FINAL_STATES, TASK_STATES, fromBullState, isTaskState, supersedes, type TaskState } from '../../src/core/states.js';

const finals: TaskState[] = ['completed', 'failed', 'cancelled', 'expired'];

describe('task state vocabulary', () => {
  it('is exactly the documented nine states (lost: history only)', () => {
    expect([...TASK_STATES]).toEqual(['waiting', 'delayed', 'active', 'retrying', 'completed', 'failed', 'cancelled', 'expired', 'lost']);
    expect([...FINAL_STATES].sort()).toEqual([...finals].sort());
  });
  it('isTaskState accepts only the vocabulary', () => {
    for (const s of TASK_STATES) expect(isTaskState(s)).toBe(true);
    for (const s of ['wait', 'prioritized', 'done', '', 'Completed']) expect(isTaskState(s)).toBe(false);
  });
});

describe('supersedes', () => {
  it('accepts anything when nothing is known yet', () => {
    for (const s of TASK_STATES) expect(supersedes(undefined, { state: s, attempt: 0 })).toBe(true);
  });

  it('never leaves a final state, not even for a later attempt', () => {
    for (const current of finals) {
      for (const next of TASK_STATES) {
        expect(supersedes({ state: current, attempt: 1 }, { state: next, attempt: 1 }), `${current} -> ${next}`).toBe(false);
        expect(supersedes({ state: current, attempt: 1 }, { state: next, attempt: 5 }), `${current} -> ${next}@5`).toBe(false);
      }
    }
  });

  it('lets a later attempt win over any non-final state of an earlier one', () => {
    for (const current of ['waiting', 'delayed', 'active', 'retrying'] as TaskState[]) {
      for (const next of TASK_STATES) {
        expect(supersedes({ state: current, attempt: 1 }, { state: next, attempt: 2 }), `${current}@1 -> ${next}@2`).toBe(true);
      }
    }
  });

  it('never lets an earlier attempt overwrite a later one', () => {
    expect(supersedes({ state: 'active', attempt: 2 }, { state: 'retrying', attempt: 1 })).toBe(false);
    expect(supersedes({ state: 'active', attempt: 2 }, { state: 'failed', attempt: 1 })).toBe(false);
    expect(supersedes({ state: 'active', attempt: 1 }, { state: 'waiting', attempt: 0 })).toBe(false);
  });

  it('allows retrying(1) -> active(2)', () => {
    expect(supersedes({ state: 'retrying', attempt: 1 }, { state: 'active', attempt: 2 })).toBe(true);
  });

  it('moves forward within an attempt', () => {
    expect(supersedes({ state: 'waiting', attempt: 0 }, { state: 'delayed', attempt: 0 })).toBe(true);
    expect(supersedes({ state: 'delayed', attempt: 0 }, { state: 'waiting', attempt: 0 })).toBe(true);
    expect(supersedes({ state: 'active', attempt: 1 }, { state: 'active', attempt: 1 })).toBe(true);
    expect(supersedes({ state: 'active', attempt: 1 }, { state: 'retrying', attempt: 1 })).toBe(true);
    for (const f of finals) {
      expect(supersedes({ state: 'active', attempt: 1 }, { state: f, attempt: 1 })).toBe(true);
      expect(supersedes({ state: 'retrying', attempt: 1 }, { state: f, attempt: 1 })).toBe(true);
      expect(supersedes({ state: 'waiting', attempt: 1 }, { state: f, attempt: 1 })).toBe(true);
    }
  });

  it('never goes back within an attempt', () => {
    expect(supersedes({ state: 'completed', attempt: 1 }, { state: 'active', attempt: 1 })).toBe(false);
    expect(supersedes({ state: 'active', attempt: 1 }, { state: 'waiting', attempt: 1 })).toBe(false);
    expect(supersedes({ state: 'active', attempt: 1 }, { state: 'delayed', attempt: 1 })).toBe(false);
    expect(supersedes({ state: 'retrying', attempt: 1 }, { state: 'active', attempt: 1 })).toBe(false);
    expect(supersedes({ state: 'retrying', attempt: 1 }, { state: 'waiting', attempt: 1 })).toBe(false);
  });
});

describe('fromBullState', () => {
  it.each([
    ['waiting', 'waiting'],
    ['wait', 'waiting'],
    ['prioritized', 'waiting'],
    ['waiting-children', 'waiting'],
    ['paused', 'waiting'],
    ['delayed', 'delayed'],
    ['active', 'active'],
    ['completed', 'completed'],
    ['failed', 'failed'],
    ['unknown', 'waiting'],
  ])('maps BullMQ %j to %j', (bull, state) => {
    expect(fromBullState(bull)).toBe(state);
  });

  it('maps a delayed job that will be retried to retrying', () => {
    expect(fromBullState('delayed', { willRetry: true })).toBe('retrying');
    expect(fromBullState('delayed', { willRetry: false })).toBe('delayed');
    expect(fromBullState('active', { willRetry: true })).toBe('active');
  });

  it('always answers with a state of the vocabulary', () => {
    for (const s of ['waiting', 'wait', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'paused', 'x']) {
      expect(isTaskState(fromBullState(s))).toBe(true);
    }
  });
});
