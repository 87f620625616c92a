import type { Redis } from 'ioredis';
import type { RunEvent, RunEventSource, StreamEntry, StreamInfo } from '../core/run-events.js';
import { tqKeys } from './keys.js';

/** XADDs every ARGV after the first (MAXLEN) as one entry each: many events, one command. */
const XADD_MANY = `for i = 2, #ARGV do redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i]) end
return #ARGV - 1`;
const XADD_MANY_COMMAND = 'tqXaddMany';
/** Events per XADD_MANY call (bounds how long one script holds Redis). */
const XADD_MANY_CHUNK = 1000;

type WithXaddMany = Redis & { [XADD_MANY_COMMAND]: (key: string, ...args: (string | number)[]) => Promise<number> };

/**
 * Appends run events to the prefix's stream. Events raised in the same tick go out in one
 * command (a busy worker writes hundreds per round trip); `flush()` writes what is pending now
 * and waits for it.
 */
export class RunEventWriter {
  private readonly key: string;
  private buffer: RunEvent[] = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly maxLen = 100_000,
    private readonly onError?: (err: unknown) => void,
  ) {
    this.key = tqKeys(prefix).events;
  }

  append(event: RunEvent): void {
    this.buffer.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.drain();
      });
    }
  }

  /** Writes `events` now and waits for Redis to acknowledge them. */
  async write(events: readonly RunEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (events.length === 1) {
      await this.redis.xadd(this.key, 'MAXLEN', '~', this.maxLen, '*', 'e', JSON.stringify(events[0]));
      return;
    }
    // One script call per chunk instead of a command per event: a pipeline of XADDs costs the
    // client a command object, a promise and a reply each, which shows at thousands of runs/s.
    const redis = this.redis as WithXaddMany;
    if (typeof redis[XADD_MANY_COMMAND] !== 'function') redis.defineCommand(XADD_MANY_COMMAND, { numberOfKeys: 1, lua: XADD_MANY });
    const writes: Promise<number>[] = [];
    for (let i = 0; i < events.length; i += XADD_MANY_CHUNK) {
      const chunk = events.slice(i, i + XADD_MANY_CHUNK).map((e) => JSON.stringify(e));
      writes.push(redis[XADD_MANY_COMMAND](this.key, this.maxLen, ...chunk));
    }
    await Promise.all(writes);
  }

  /** Resolves when everything appended so far is in Redis (or has failed and been reported). */
  async flush(): Promise<void> {
    await this.drain();
  }

  private drain(): Promise<void> {
    this.inFlight = this.inFlight.then(async () => {
      if (this.buffer.length === 0) return;
      const batch = this.buffer;
      this.buffer = [];
      try {
        await this.write(batch);
        this.failures = 0;
      } catch (err) {
        // Keep the events and try again with the next batch; history must not lose them.
        this.buffer = batch.concat(this.buffer);
        this.failures += 1;
        if (this.failures === 1) this.onError?.(err);
        if (this.buffer.length > 0 && !this.scheduled) {
          this.scheduled = true;
          setTimeout(() => {
            this.scheduled = false;
            void this.drain();
          }, Math.min(200 * this.failures, 5000)).unref();
        }
      }
    });
    return this.inFlight;
  }

  get pending(): number {
    return this.buffer.length;
  }
}

/** Reads the run-event stream for the recorder (its own connection: XREAD BLOCK holds it). */
export class RunEventReader implements RunEventSource {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = tqKeys(prefix).events;
  }

  async read(afterId: string, count: number, blockMs: number): Promise<StreamEntry[]> {
    const reply = (
      blockMs > 0
        ? await this.redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.key, afterId)
        : await this.redis.xread('COUNT', count, 'STREAMS', this.key, afterId)
    ) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => ({ id, event: parseEvent(fields) }));
  }

  async info(): Promise<StreamInfo> {
    let raw: unknown[];
    try {
      raw = (await this.redis.xinfo('STREAM', this.key)) as unknown[];
    } catch {
      return { firstId: undefined, lastId: undefined, length: 0, entriesAdded: undefined, maxDeletedId: undefined };
    }
    const map = new Map<string, unknown>();
    for (let i = 0; i + 1 < raw.length; i += 2) map.set(String(raw[i]), raw[i + 1]);
    const entryId = (v: unknown) => (Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);
    const added = map.get('entries-added');
    const maxDeleted = map.get('max-deleted-entry-id');
    return {
      firstId: entryId(map.get('first-entry')),
      lastId: entryId(map.get('last-entry')),
      length: Number(map.get('length') ?? 0),
      entriesAdded: added === undefined ? undefined : Number(added),
      // '0-0' is a real answer (nothing trimmed yet); absent means Redis < 7.
      maxDeletedId: typeof maxDeleted === 'string' ? maxDeleted : undefined,
    };
  }
}

const EVENT_TYPES = new Set([
  'enqueued', 'active', 'retrying', 'completed', 'failed', 'cancelled', 'expired', 'delayed', 'requeued', 'retried', 'progress', 'log',
]);

/**
 * Only well-formed tq events reach the recorder: anything else in the stream (written by hand,
 * by another tool, or by a future tq) is skipped, so it can never wedge the history behind it.
 */
function parseEvent(fields: string[]): RunEvent | null {
  const i = fields.indexOf('e');
  const text = i >= 0 ? fields[i + 1] : undefined;
  if (!text) return null;
  try {
    const e = JSON.parse(text) as RunEvent;
    const ok =
      e !== null &&
      typeof e === 'object' &&
      typeof e.jobId === 'string' &&
      e.jobId.length > 0 &&
      typeof e.task === 'string' &&
      typeof e.queue === 'string' &&
      EVENT_TYPES.has(e.type) &&
      typeof e.at === 'number' &&
      Number.isFinite(e.at) &&
      Math.abs(e.at) < 8.64e15 &&
      typeof e.attempt === 'number' &&
      Number.isFinite(e.attempt);
    return ok ? e : null;
  } catch {
    return null;
  }
}
