import type { Redis } from 'ioredis';
import { CANCELLED, EXPIRED } from '../core/run-outcome.js';

/**
 * BullMQ keeps every run that ended without completing in one `failed` set: real failures, but
 * also runs tq cancelled (while active) or expired, told apart only by their reason's prefix
 * (see `failureState`). Counting them per state therefore reads each reason; this script does
 * it inside Redis in one round trip, so the cost is O(failed runs kept) on the server and one
 * reply of two numbers on the wire. `keep` on a task bounds it.
 */
const BREAKDOWN = `
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local cancelled, expired = 0, 0
local cl, el = string.len(ARGV[2]), string.len(ARGV[3])
for _, id in ipairs(ids) do
  local reason = redis.call('HGET', ARGV[1] .. id, 'failedReason')
  if reason then
    if string.sub(reason, 1, cl) == ARGV[2] then cancelled = cancelled + 1
    elseif string.sub(reason, 1, el) == ARGV[3] then expired = expired + 1 end
  end
end
return {cancelled, expired}
`;

/** How many runs of a queue's failed set are really cancelled or expired. */
export interface FailedBreakdown {
  cancelled: number;
  expired: number;
}

/** Counts the cancelled and expired runs among `queue`'s failed set (see `BREAKDOWN`). */
export async function failedBreakdown(redis: Redis, prefix: string, queue: string): Promise<FailedBreakdown> {
  const base = `${prefix}:${queue}:`;
  const [cancelled, expired] = (await redis.eval(BREAKDOWN, 1, `${base}failed`, base, `${CANCELLED}:`, `${EXPIRED}:`)) as [number, number];
  return { cancelled, expired };
}
