import type { Redis } from 'ioredis';

/**
 * The Redis server's clock, as seen from this process: expiry and rate limits are judged by one
 * clock for the whole cluster, not by each host's. The offset is measured with TIME (half the
 * round trip assumed each way) and refreshed now and then.
 */
export class ServerClock {
  private offsetMs = 0;
  private syncedAt = 0;

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
  async fresh(maxAgeMs = 60_000): Promise<void> {
    if (Date.now() - this.syncedAt > maxAgeMs) await this.sync();
  }

  now(): number {
    return Date.now() + this.offsetMs;
  }

  get offset(): number {
    return this.offsetMs;
  }
}
