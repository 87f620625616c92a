import type { Redis } from 'ioredis';
import { coalesceAttempts, type RunEvent, type RunEventSource, type StreamEntry, type StreamInfo } from '../core/run-events.js';
import { tqKeys } from './keys.js';

/** Events per stream entry at most, and roughly the most JSON text per entry. */
const EVENTS_PER_ENTRY = 500;
const BYTES_PER_ENTRY = 512 * 1024;

/**
 * Appends run events to the prefix's stream. Events raised while the previous write is under
 * way (or in the same tick) go out together as ONE stream entry holding a JSON array (field
 * `b`), so a busy worker pays one XADD, and its readers one entry, per few hundred events. An
 * attempt's `active` event is left out when the event that ended it is in the same batch (that
 * one says when it started). `flush()` writes what is pending now and waits for it.
 */
export class RunEventWriter {
  private readonly key: string;
  private buffer: RunEvent[] = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();
  private failures = 0;

  /**
   * `delayMs` 0: what is appended goes out at the end of the tick, before any command sent later
   * on this connection (a producer relies on that). More: it waits up to that long for company
   * (a worker: a few milliseconds turn one command per run into one per dozens of runs, and most
   * runs' `active` event then merges into the event that ends them).
   */
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly maxLen = 100_000,
    private readonly onError?: (err: unknown) => void,
    private readonly delayMs = 0,
  ) {
    this.key = tqKeys(prefix).events;
  }

  append(event: RunEvent): void {
    this.buffer.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      const go = () => {
        this.scheduled = false;
        void this.drain();
      };
      if (this.delayMs > 0) setTimeout(go, this.delayMs);
      else setImmediate(go);
    }
  }

  /** Writes `events` now and waits for Redis to acknowledge them. */
  async write(events: readonly RunEvent[]): Promise<void> {
    const entries = packEntries(coalesceAttempts(events));
    if (entries.length === 1) {
      await this.redis.xadd(this.key, 'MAXLEN', '~', this.maxLen, '*', 'b', entries[0]!);
      return;
    }
    // Several entries (a big batch): one round trip, in order.
    const pipeline = this.redis.pipeline();
    for (const entry of entries) pipeline.xadd(this.key, 'MAXLEN', '~', this.maxLen, '*', 'b', entry);
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
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
    return entries.map(([id, fields]) => ({ id, events: parseEntry(fields) }));
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

/** Splits a batch into entry texts (JSON arrays) of at most EVENTS_PER_ENTRY events and about BYTES_PER_ENTRY. */
function packEntries(events: readonly RunEvent[]): string[] {
  const entries: string[] = [];
  let parts: string[] = [];
  let bytes = 0;
  for (const event of events) {
    const text = JSON.stringify(event);
    if (parts.length > 0 && (parts.length >= EVENTS_PER_ENTRY || bytes + text.length > BYTES_PER_ENTRY)) {
      entries.push(`[${parts.join(',')}]`);
      parts = [];
      bytes = 0;
    }
    parts.push(text);
    bytes += text.length + 1;
  }
  if (parts.length > 0) entries.push(`[${parts.join(',')}]`);
  return entries;
}

/**
 * Only well-formed tq events reach the recorder: anything else in the stream (written by hand,
 * by another tool, or by a future tq) is skipped, so it can never wedge the history behind it.
 * An entry holds a batch (`b`: a JSON array of events) or, as tq wrote before batching, one
 * event (`e`).
 */
function parseEntry(fields: string[]): RunEvent[] {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    if (name !== 'b' && name !== 'e') continue;
    const text = fields[i + 1];
    if (!text) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return [];
    }
    if (name === 'e') return isRunEvent(parsed) ? [parsed] : [];
    return Array.isArray(parsed) ? parsed.filter(isRunEvent) : [];
  }
  return [];
}

function isRunEvent(value: unknown): value is RunEvent {
  const e = value as RunEvent;
  return (
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
    Number.isFinite(e.attempt) &&
    (e.startedAt === undefined || (typeof e.startedAt === 'number' && Number.isFinite(e.startedAt) && Math.abs(e.startedAt) < 8.64e15))
  );
}
