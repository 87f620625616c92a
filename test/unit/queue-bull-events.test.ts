import { describe, expect, it } from 'vitest';
import { entryFields, fromQueueEntry } from '../../src/queue/bull-events.js';

const at = 1_767_225_600_000;
const entry = (...fields: string[]) => entryFields(fields);

describe("BullMQ's queue event entries as run events", () => {
  it("reads a plain producer's added run with its payload; a tq envelope gives the enqueue time", () => {
    expect(
      fromQueueEntry('q', `${at}-0`, entry('event', 'added', 'jobId', '7', 'name', 'report'), { data: '{"a":1}', delay: '0' }, 'report'),
    ).toEqual({
      type: 'enqueued',
      jobId: '7',
      task: 'report',
      queue: 'q',
      at,
      attempt: 0,
      payload: { a: 1 },
      observed: {},
    });
    const wrapped = JSON.stringify({ $tq: 1, payload: { b: 2 }, enqueuedAt: at - 5 });
    expect(fromQueueEntry('q', `${at}-1`, entry('event', 'added', 'jobId', '8'), { data: wrapped, delay: '1000' }, 't')).toMatchObject({
      at: at - 5,
      payload: { b: 2 },
      dueAt: at + 995,
    });
    // Data that is not JSON is kept as text; JSON nested too deep to store again becomes a note.
    expect(fromQueueEntry('q', `${at}-2`, entry('event', 'added', 'jobId', '9'), { data: '{nope' }, 't')?.payload).toBe('{nope');
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(fromQueueEntry('q', `${at}-3`, entry('event', 'added', 'jobId', '10'), { data: deep }, 't')?.payload).toMatch(
      /^\(not recorded: /,
    );
  });

  it('maps waiting by where it came from, removal to cancelled, and skips what moves no run', () => {
    const w = (prev?: string) =>
      fromQueueEntry('q', `${at}-0`, entry('event', 'waiting', 'jobId', '1', ...(prev ? ['prev', prev] : [])), undefined, 't');
    expect(w()).toBeUndefined();
    expect(w('failed')).toMatchObject({ type: 'retried', observed: { prev: 'failed' } });
    expect(w('active')).toMatchObject({ type: 'requeued' });
    expect(w('delayed')).toMatchObject({ type: 'delayed', dueAt: at, observed: { prev: 'delayed' } });
    expect(fromQueueEntry('q', `${at}-0`, entry('event', 'removed', 'jobId', '1', 'prev', 'delayed'), undefined, 't')).toMatchObject({
      type: 'cancelled',
      error: expect.stringMatching(/^removed from Redis by another client while delayed/),
    });
    expect(
      fromQueueEntry('q', `${at}-0`, entry('event', 'failed', 'jobId', '1', 'failedReason', 'Timed out: 5s'), undefined, 't'),
    ).toMatchObject({
      type: 'failed',
      error: 'Timed out: 5s',
    });
    expect(
      fromQueueEntry('q', `${at}-0`, entry('event', 'completed', 'jobId', '1', 'returnvalue', '{"ok":true}'), undefined, 't'),
    ).toMatchObject({
      type: 'completed',
      result: { ok: true },
    });
    expect(fromQueueEntry('q', `${at}-0`, entry('event', 'drained'), undefined, 't')).toBeUndefined();
    expect(fromQueueEntry('q', `${at}-0`, entry('event', 'cleaned', 'count', '3'), undefined, 't')).toBeUndefined();
  });
});
