import type { Redis } from 'ioredis';
import { tqKeys } from './keys.js';

/**
 * A rate limit shared by every worker: the generic cell rate algorithm in one Lua script on the
 * Redis server's clock. Each call reserves the next free slot for one run and returns when that
 * slot is (server epoch ms). Starts are spread evenly, one every `period / limit` (as Celery's
 * rate limits do): '10/s' starts a run every 100 ms, never 10 at once. A run whose slot is in the future is parked (delayed) until then, so nothing
 * polls and other tasks on the queue are not held up.
 */
const RESERVE = `
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local slot = tat - (burst - 1) * interval
if slot < now then slot = now end
local newTat = tat + interval
redis.call('SET', key, tostring(newTat), 'PX', math.ceil(newTat - now + interval * burst) + 1000)
return {tostring(slot), tostring(now)}
`;

export interface RateLimit {
  limit: number;
  periodMs: number;
}

export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Reserves a slot; returns the slot time and the server's current time (epoch ms). */
  async reserve(task: string, rate: RateLimit): Promise<{ slot: number; now: number }> {
    const interval = rate.periodMs / rate.limit;
    const burst = 1;
    const reply = (await this.redis.eval(RESERVE, 1, tqKeys(this.prefix).rate(task), String(interval), String(burst))) as [string, string];
    return { slot: Number(reply[0]), now: Number(reply[1]) };
  }
}
