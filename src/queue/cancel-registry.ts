import type { Redis } from 'ioredis';
import { scanKeys } from './connection.js';
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
    const keys = tqKeys(this.prefix);
    const [head = '', tail = ''] = keys.cancel('\0').split('\0');
    const found: string[] = [];
    for await (const batch of scanKeys(this.redis, `${head}*${tail}`)) {
      const reasons = await this.redis.mget(...batch);
      batch.forEach((key, i) => {
        const id = key.slice(head.length, key.length - tail.length);
        this.add(id, reasons[i] ?? 'cancelled');
        found.push(id);
      });
    }
    return found;
  }
}
