import { UsageError } from './errors.js';

export interface RateLimitSpec {
  limit: number;
  periodMs: number;
}

const UNITS: Record<string, number> = { s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `'10/s'`, `'100/m'`, `'1000/h'`, `'5/d'` into a count per period. */
export function parseRateLimit(text: string, what = 'rateLimit'): RateLimitSpec {
  const m = /^\s*(\d+)\s*\/\s*([a-z]+)\s*$/.exec(String(text));
  const limit = m ? Number(m[1]) : NaN;
  const periodMs = m ? UNITS[m[2]!] : undefined;
  if (!m || !periodMs || !Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`${what}: "${text}" is not a rate (use e.g. '10/s', '100/m', '1000/h')`);
  }
  return { limit, periodMs };
}
