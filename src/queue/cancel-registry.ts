import type { Redis } from 'ioredis';
import { tqKeys } from './keys.js';

/**
 * The cancel requests a worker knows about, so checking one when a run starts costs no round
 * trip. Filled from the control channel as requests arrive, and from the durable cancel keys at
 * start and after every reconnect (pub/sub drops messages while disconnected).
 */
export class CancelRegistry {
  private readonly requests = new Map<string, { reason: string; until: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 7 * 24 * 3600 * 1000,
  ) {}

  add(id: string, reason: string): void {
    this.requests.set(id, { reason, until: Date.now() + this.ttlMs });
  }

  /** The reason a run was cancelled, if it was. */
  get(id: string): string | undefined {
    const entry = this.requests.get(id);
    if (!entry) return undefined;
    if (entry.until < Date.now()) {
      this.requests.delete(id);
      return undefined;
    }
    return entry.reason;
  }

  /** Loads every durable cancel request under the prefix (SCAN, not KEYS). */
  async sync(): Promise<string[]> {
    const prefix = tqKeys(this.prefix).cancel('');
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        const reasons = await this.redis.mget(...keys);
        keys.forEach((key, i) => {
          const id = key.slice(prefix.length);
          this.add(id, reasons[i] ?? 'cancelled');
          found.push(id);
        });
      }
    } while (cursor !== '0');
    return found;
  }
}
