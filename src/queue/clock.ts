import type { Redis } from 'ioredis';
import { clockWarning } from '../core/clock-offset.js';

/** How often a long-running process re-measures its offset (one TIME round trip). */
export const CLOCK_RESYNC_MS = 60_000;

/**
 * The Redis server's clock, as seen from this process: everything tq schedules or judges itself
 * (expiry, rate limits, the unknown-task grace, backoff retries, parked runs, history times) is
 * on one clock for the whole cluster, not each host's. The offset is measured with TIME (half the
 * round trip assumed each way) and refreshed now and then, so `now()` costs no round trip.
 */
export class ServerClock {
  private offsetMs = 0;
  private syncedAt = 0;
  private warned = false;

  constructor(private readonly redis: Redis) {}

  async sync(): Promise<void> {
    const before = Date.now();
    const [seconds, micros] = await this.redis.time();
    const after = Date.now();
    const server = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    this.offsetMs = server - Math.round((before + after) / 2);
    this.syncedAt = after;
  }

  /** Re-syncs when the last measurement is older than `maxAgeMs`. */
  async fresh(maxAgeMs = CLOCK_RESYNC_MS): Promise<void> {
    if (Date.now() - this.syncedAt > maxAgeMs) await this.sync();
  }

  /** Now by the server's clock (epoch ms). */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** A time read on this host's clock (`Date.now()`, BullMQ's job times) on the server's. */
  toServer(localMs: number): number {
    return localMs + this.offsetMs;
  }

  /** Server minus this host (ms): negative when this host's clock runs ahead. */
  get offset(): number {
    return this.offsetMs;
  }

  /**
   * The warning line when the offset went past a second since the last call said so (once per
   * streak: a clock that drifts back in step and off again is said again).
   */
  skewWarning(): string | undefined {
    const line = clockWarning(this.offsetMs);
    const say = line !== undefined && !this.warned;
    this.warned = line !== undefined;
    return say ? line : undefined;
  }
}

/**
 * Measures this host's offset once and says so past a second (processes that do not keep a
 * clock: inspect, control, monitor). Returns the offset.
 */
export async function warnIfSkewed(redis: Redis, warn: (line: string) => void): Promise<number> {
  const clock = new ServerClock(redis);
  await clock.sync();
  const line = clock.skewWarning();
  if (line) warn(line);
  return clock.offset;
}
