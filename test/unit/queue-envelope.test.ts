import { describe, expect, it } from 'vitest';
import { jobData, unwrap, withRateSlot } from '../../src/queue/envelope.js';

const T = 1_764_590_000_000;

describe('jobData: what a run stores as its BullMQ job data', () => {
  it('stores a plain payload as it is (the enqueue time is the job timestamp)', () => {
    expect(jobData({ name: 'world' }, T, {})).toEqual({ name: 'world' });
    expect(jobData('text', T, {})).toBe('text');
    expect(jobData(null, T, {})).toBeNull();
    const back = unwrap(jobData({ name: 'world' }, T, {}));
    expect(back.payload).toEqual({ name: 'world' });
    expect(back.enqueuedAt).toBeUndefined();
    expect(back.expiresAt).toBeUndefined();
  });

  it('wraps a run with per-run facts (expiry, time limit), and they come back', () => {
    const data = jobData({ a: 1 }, T, { expiresAt: T + 60_000, timeLimitMs: 5000 });
    expect(data).toEqual({ $tq: 1, payload: { a: 1 }, enqueuedAt: T, expiresAt: T + 60_000, timeLimitMs: 5000 });
    expect(unwrap(data)).toMatchObject({ payload: { a: 1 }, enqueuedAt: T, expiresAt: T + 60_000, timeLimitMs: 5000, tq: true });
  });

  it('wraps a payload that could pass for an envelope, so it reaches the handler unchanged', () => {
    const tricky = { $tq: 1, payload: 'not mine', enqueuedAt: 5 };
    const data = jobData(tricky, T, {});
    expect(unwrap(data).payload).toEqual(tricky);
  });

  it('a rate-limit slot wraps plain data with the fallback enqueue time', () => {
    const parked = withRateSlot({ n: 1 }, T + 500, T);
    expect(unwrap(parked)).toMatchObject({ payload: { n: 1 }, enqueuedAt: T, rateSlot: T + 500 });
  });
});
