import { describe, expect, it } from 'vitest';
import { pollUntil, settlesWithin, sleep, withTimeout } from '../../src/core/async.js';

/**
 * Timers this process holds now (a helper that forgets to clear one leaves it here). The test
 * runner has timers of its own that come and go, so "after" is compared with at most "before".
 */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('sleep', () => {
  it('resolves true after the time, holding no timer afterwards', async () => {
    const before = timers();
    const started = Date.now();
    expect(await sleep(30)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('an abort cuts it short (false) and clears its timer', async () => {
    const before = timers();
    const controller = new AbortController();
    const started = Date.now();
    const slept = sleep(60_000, controller.signal);
    controller.abort();
    expect(await slept).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('an already aborted signal does not wait at all', async () => {
    const before = timers();
    expect(await sleep(60_000, AbortSignal.abort())).toBe(false);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe('withTimeout', () => {
  it("passes the promise's value through and clears its timer", async () => {
    const before = timers();
    expect(await withTimeout(Promise.resolve(7), 60_000, () => new Error('late'))).toBe(7);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it("passes the promise's rejection through", async () => {
    await expect(withTimeout(Promise.reject(new Error('boom')), 60_000, () => new Error('late'))).rejects.toThrow('boom');
  });

  it('rejects with onTimeout() when the promise is too slow, and a late rejection is not unhandled', async () => {
    const before = timers();
    let rejectLate: (err: Error) => void = () => undefined;
    const slow = new Promise<number>((_, reject) => (rejectLate = reject));
    await expect(withTimeout(slow, 20, () => new Error('no answer within 20 ms'))).rejects.toThrow('no answer within 20 ms');
    expect(timers()).toBeLessThanOrEqual(before);
    rejectLate(new Error('too late')); // vitest fails the run on an unhandled rejection
    await sleep(0);
  });
});

describe('settlesWithin', () => {
  it('true when the promise settles either way in time, false when not; no timer left', async () => {
    const before = timers();
    expect(await settlesWithin(Promise.resolve(), 60_000)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('x')), 60_000)).toBe(true);
    expect(await settlesWithin(new Promise(() => undefined), 20)).toBe(false);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe('pollUntil', () => {
  it('checks at once, then every interval, until a value comes', async () => {
    let calls = 0;
    const value = await pollUntil(() => (++calls === 3 ? 'ready' : undefined), { intervalMs: 5 });
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('gives up at the deadline (undefined), not much later', async () => {
    const before = timers();
    const started = Date.now();
    expect(await pollUntil(async () => undefined, { intervalMs: 10, timeoutMs: 50 })).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('stops when the signal aborts, mid-wait', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const polling = pollUntil(() => undefined, { intervalMs: 60_000, signal: controller.signal });
    setImmediate(() => controller.abort());
    expect(await polling).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
