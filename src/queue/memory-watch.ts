import { errorMessage } from '../core/errors.js';
import { formatBytes, mayEvict, readMemory, refusesWrites, type RedisMemory } from './memory.js';
import type { Redis } from './redis-client.js';

/** How often a running worker looks at Redis's memory by default. */
export const MEMORY_WATCH_INTERVAL_MS = 60_000;

export interface MemoryWatchOptions {
  /** Between two looks; default once a minute (one pipelined `INFO memory` + `INFO stats`, a few KB). */
  intervalMs?: number;
  /** Whether the config allows an evicting policy (then evictions are still reported, the policy is not). */
  allowEviction: boolean;
  warn(message: string): void;
  info(message: string): void;
}

/**
 * Tells a running process, once per change, what it cannot see from its own commands' errors:
 * Redis started or stopped refusing writes (`noeviction` at `maxmemory`), Redis evicted keys
 * (`evicted_keys` grew since the last look: queued runs, locks or heartbeats may be gone), or its
 * policy became an evicting one while the process ran.
 */
export class MemoryWatch {
  private timer: NodeJS.Timeout | undefined;
  private last: RedisMemory | undefined;
  private full = false;
  private evicting = false;
  private failing = false;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly options: MemoryWatchOptions,
    /** The figures read at start (the baseline for evictions). */
    initial?: RedisMemory,
  ) {
    this.last = initial;
    if (initial) {
      this.full = refusesWrites(initial);
      this.evicting = mayEvict(initial);
    }
  }

  start(): void {
    this.timer = setInterval(() => {
      this.polling = this.poll();
    }, this.options.intervalMs ?? MEMORY_WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  /** One look now (what the timer does). */
  async poll(): Promise<void> {
    // Connection lost: the worker already says so; there is nothing to read until it is back.
    if (this.redis.status !== 'ready') return;
    let now: RedisMemory;
    try {
      now = await readMemory(this.redis);
    } catch (err) {
      if (!this.failing) this.options.warn(`could not read Redis memory figures (${errorMessage(err)}); trying again in a minute`);
      this.failing = true;
      return;
    }
    this.failing = false;
    this.judge(now);
  }

  private judge(now: RedisMemory): void {
    const { warn, info } = this.options;
    const figures = `maxmemory ${formatBytes(now.maxBytes)}, used ${formatBytes(now.usedBytes)}, policy ${now.policy}`;
    const full = refusesWrites(now);
    if (full !== this.full) {
      if (full) {
        warn(
          `Redis is out of memory (${figures}): writes are refused, so runs can neither start nor finish; free memory (tq control purge --state completed) or raise maxmemory. This worker keeps running and goes on when Redis accepts writes`,
        );
      } else {
        info(`Redis accepts writes again (${figures})`);
      }
      this.full = full;
    }
    const evicting = mayEvict(now);
    if (evicting && !this.evicting && !this.options.allowEviction) {
      warn(
        `Redis maxmemory-policy is now "${now.policy}" (maxmemory ${formatBytes(now.maxBytes)}): Redis may evict queued runs; set it to noeviction`,
      );
    }
    this.evicting = evicting;
    const evicted = this.last ? now.evictedKeys - this.last.evictedKeys : 0;
    if (evicted > 0) {
      warn(
        `Redis evicted ${evicted} key(s) since the last look (${figures}): queued runs, their locks or worker heartbeats may be gone; set maxmemory-policy noeviction or raise maxmemory`,
      );
    }
    this.last = now;
  }

  /** Stops looking (waits for a look under way). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }
}
