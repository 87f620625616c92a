import { describe, expect, it, vi } from 'vitest';
import type { RecordsStore } from '../../src/core/records.js';
import { createRunContext, type ProgressValue } from '../../src/core/run-context.js';

function make(progressIntervalMs: number) {
  const progress: [ProgressValue, boolean][] = [];
  const logs: string[] = [];
  let signals = 0;
  const controller = new AbortController();
  const made = createRunContext({
    id: 'r1',
    name: 'hello',
    queue: 'default',
    attempt: 2,
    signal: () => {
      signals += 1;
      return controller.signal;
    },
    db: {} as RecordsStore,
    media: '/media',
    logger: { info: () => undefined, warn: () => undefined },
    progressIntervalMs,
    sinks: {
      progress: (value, final) => void progress.push([value, final]),
      log: (line) => void logs.push(line),
      enqueue: async (task) => ({ id: `child-of-${task}` }),
    },
  });
  return { ...made, progress, logs, signals: () => signals };
}

describe('createRunContext', () => {
  it('carries the run facts; the signal is made only when asked for', async () => {
    const { ctx, signals } = make(0);
    expect([ctx.id, ctx.name, ctx.queue, ctx.attempt, ctx.media]).toEqual(['r1', 'hello', 'default', 2, '/media']);
    expect(signals()).toBe(0);
    expect(ctx.signal.aborted).toBe(false);
    expect(signals()).toBe(1);
    expect(await ctx.enqueue('next')).toEqual({ id: 'child-of-next' });
  });

  it('log lines go out as text, also from a destructured or spread ctx', async () => {
    const { ctx, logs } = make(0);
    const { log } = ctx;
    await log('one');
    await { ...ctx }.log(2 as unknown as string);
    expect(logs).toEqual(['one', '2']);
  });

  it('progress is throttled, trailing: the latest value wins and the rest is written at the end', async () => {
    vi.useFakeTimers();
    try {
      const { ctx, end, progress } = make(250);
      await ctx.progress(10);
      await ctx.progress(20);
      expect(progress).toEqual([]);
      vi.advanceTimersByTime(250);
      expect(progress).toEqual([[20, false]]);
      await ctx.progress(30);
      await ctx.progress({ step: 'last' });
      end();
      expect(progress).toEqual([
        [20, false],
        [{ step: 'last' }, true],
      ]);
      // After the end (a zombie handler), progress goes nowhere and no timer is left behind.
      await ctx.progress(99);
      expect(vi.getTimerCount()).toBe(0);
      expect(progress).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('without a throttle every value goes out at once', async () => {
    const { ctx, end, progress } = make(0);
    await ctx.progress(1);
    await ctx.progress(2);
    end();
    expect(progress).toEqual([
      [1, false],
      [2, false],
    ]);
  });
});
