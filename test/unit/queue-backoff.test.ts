import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/queue/backoff.js';

describe('backoffDelay', () => {
  it('fixed waits the same each time; exponential doubles from the base', () => {
    expect([1, 2, 3].map((n) => backoffDelay({ type: 'fixed', delay: 500 }, n))).toEqual([500, 500, 500]);
    expect([1, 2, 3, 4].map((n) => backoffDelay({ type: 'exponential', delay: 500 }, n))).toEqual([500, 1000, 2000, 4000]);
  });

  it('maxDelay caps the growth', () => {
    expect([1, 5, 20].map((n) => backoffDelay({ type: 'exponential', delay: 1000, maxDelay: 10_000 }, n))).toEqual([1000, 10_000, 10_000]);
  });

  it('jitter spreads each wait over [delay * (1 - jitter), delay], downwards only', () => {
    const backoff = { type: 'exponential' as const, delay: 1000, jitter: 0.5 };
    expect(backoffDelay(backoff, 2, () => 0)).toBe(2000);
    expect(backoffDelay(backoff, 2, () => 0.999999)).toBe(1000);
    // A real spread: 1000 draws cover the range evenly and stay inside it.
    const draws = Array.from({ length: 1000 }, () => backoffDelay(backoff, 2));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...draws)).toBeLessThanOrEqual(2000);
    const lowHalf = draws.filter((d) => d < 1500).length;
    expect(lowHalf).toBeGreaterThan(400);
    expect(lowHalf).toBeLessThan(600);
    expect(new Set(draws).size).toBeGreaterThan(300);
  });
});
