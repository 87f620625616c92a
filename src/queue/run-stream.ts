import { lookupRuns } from './run-lookup.js';
import type { Redis } from 'ioredis';
import {
  coalesceAttempts,
  type RunEvent,
  type RunEventSource,
  type RunSnapshot,
  type StreamEntry,
  type StreamInfo,
} from '../core/run-events.js';
import { tqKeys } from './keys.js';
import { errorMessage } from '../core/errors.js';

/** What closing a history writer's owner (producer, admin) could not do. */
export interface HistoryCloseReport {
  /** Run events that could not be written to the stream: history will not have them. */
  unwrittenEvents: number;
}

/**
 * The warnings a history writer's owner gives: the first failed write of a streak, and on
 * close the events it had to drop. `warn` defaults to a Node process warning (on stderr).
 */
export function historyWarnings(warn: (message: string) => void = (m) => process.emitWarning(m, 'TqHistoryWarning')) {
  return {
    onWriteError(err: unknown, pendingEvents: number): void {
      if (err instanceof HistoryEventsDropped) {
        warn(`history: ${err.message}`);
        return;
      }
      const what = err instanceof Error ? err.message : String(err);
      warn(`history: could not write ${pendingEvents} run event(s) to the stream, retrying: ${what}`);
    },
    onClose(unwrittenEvents: number): HistoryCloseReport {
      if (unwrittenEvents > 0) warn(`history: ${unwrittenEvents} run event(s) could not be written to the stream and are not in history`);
      return { unwrittenEvents };
    },
  };
}

/** Events per stream entry at most, and roughly the most JSON text per entry. */
const EVENTS_PER_ENTRY = 500;
const BYTES_PER_ENTRY = 512 * 1024;

/** How much a writer keeps while Redis refuses its writes, at most (see `RunEventWriter`). */
export interface WriterBounds {
  /** Events waiting to be written; default 10,000. */
  maxPendingEvents?: number;
  /** Their JSON text, bytes; default 64 MiB (payloads and results may be 1 MiB each). */
  maxPendingBytes?: number;
}
export const DEFAULT_MAX_PENDING_EVENTS = 10_000;
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** How often, at most, a writer that keeps dropping events says so again. */
const DROP_REPORT_EVERY_MS = 60_000;

/**
 * Events a writer dropped (the oldest first) because more were waiting than its bound while
 * Redis refused writes. Reported through the writer's `onError`: history will lack them.
 */
export class HistoryEventsDropped extends Error {
  constructor(
    readonly dropped: number,
    bound: string,
    cause: unknown,
  ) {
    super(
      `dropped the oldest ${dropped} run event(s) so far: more than ${bound} were waiting while Redis refused writes (${errorMessage(cause)}); history will lack them`,
    );
    this.name = 'HistoryEventsDropped';
  }
}

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
  /** Failed writes in a row (the retry delay grows with it). */
  private failures = 0;
  private failedWritesTotal = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly maxPendingEvents: number;
  private readonly maxPendingBytes: number;
  /** JSON size of the events in `buffer`, kept only while writes fail (the hot path never measures). */
  private bufferBytes = 0;
  private readonly sizes = new WeakMap<RunEvent, number>();
  private droppedTotal = 0;
  private droppedReported = 0;
  private dropReportedAt = 0;
  private lastError: unknown;

  /**
   * `delayMs` 0: what is appended goes out at the end of the tick, before any command sent later
   * on this connection (a producer relies on that). More: it waits up to that long for company
   * (a worker: a few milliseconds turn one command per run into one per dozens of runs, and most
   * runs' `active` event then merges into the event that ends them).
   * `onError` hears the first failed write of a streak (not every retry), with how many events
   * are waiting to be written, and, as a `HistoryEventsDropped`, events dropped past `bounds`
   * (at the first drop of a streak, then at most once a minute while it goes on).
   */
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly maxLen = 100_000,
    private readonly onError?: (err: unknown, pendingEvents: number) => void,
    private readonly delayMs = 0,
    bounds: WriterBounds = {},
  ) {
    this.key = tqKeys(prefix).events;
    this.maxPendingEvents = bounds.maxPendingEvents ?? DEFAULT_MAX_PENDING_EVENTS;
    this.maxPendingBytes = bounds.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  }

  append(event: RunEvent): void {
    this.buffer.push(event);
    // Only a writer whose writes fail accumulates events: only then are they measured and bounded.
    if (this.failures > 0) {
      this.bufferBytes += this.sizeOf(event);
      this.enforceBounds();
    }
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
        this.bufferBytes = 0;
        this.reportDrops(true);
      } catch (err) {
        // Keep the events and try again with the next batch; history must not lose them, up to
        // the bounds: a Redis that refuses writes for long (maxmemory) must not take this
        // process's memory with it.
        this.buffer = batch.concat(this.buffer);
        this.failures += 1;
        this.failedWritesTotal += 1;
        this.lastError = err;
        if (this.failures === 1) this.onError?.(err, this.buffer.length);
        this.bufferBytes = this.buffer.reduce((sum, e) => sum + this.sizeOf(e), 0);
        this.enforceBounds();
        if (this.buffer.length > 0 && !this.scheduled && !this.closed) {
          this.scheduled = true;
          this.retryTimer = setTimeout(
            () => {
              this.scheduled = false;
              this.retryTimer = undefined;
              void this.drain();
            },
            Math.min(200 * this.failures, 5000),
          );
          this.retryTimer.unref();
        }
      }
    });
    return this.inFlight;
  }

  /** Events appended and not written yet (waiting for their turn, or for a retry). */
  get pending(): number {
    return this.buffer.length;
  }

  /** Events dropped past the bounds since this writer was made (history lacks them). */
  get droppedEvents(): number {
    return this.droppedTotal;
  }

  private sizeOf(event: RunEvent): number {
    let size = this.sizes.get(event);
    if (size === undefined) {
      size = JSON.stringify(event).length;
      this.sizes.set(event, size);
    }
    return size;
  }

  /** Drops the oldest events past the bounds, and says so. */
  private enforceBounds(): void {
    let drop = Math.max(0, this.buffer.length - this.maxPendingEvents);
    let bytes = this.bufferBytes;
    for (let i = 0; i < drop; i++) bytes -= this.sizeOf(this.buffer[i]!);
    while (bytes > this.maxPendingBytes && drop < this.buffer.length - 1) {
      bytes -= this.sizeOf(this.buffer[drop]!);
      drop += 1;
    }
    if (drop === 0) return;
    this.buffer.splice(0, drop);
    this.bufferBytes = bytes;
    this.droppedTotal += drop;
    this.reportDrops(false);
  }

  /** At the first drop of a streak, then at most once a minute; `final`: the streak is over. */
  private reportDrops(final: boolean): void {
    const unreported = this.droppedTotal - this.droppedReported;
    if (unreported === 0) return;
    const now = Date.now();
    const first = this.droppedReported === 0 || this.dropReportedAt === 0;
    if (!final && !first && now - this.dropReportedAt < DROP_REPORT_EVERY_MS) return;
    const bound = `${this.maxPendingEvents} events or ${Math.round(this.maxPendingBytes / (1024 * 1024))} MiB`;
    this.onError?.(new HistoryEventsDropped(this.droppedTotal, bound, this.lastError), this.buffer.length);
    this.droppedReported = this.droppedTotal;
    this.dropReportedAt = final ? 0 : now;
  }

  /** Writes that failed since this writer was made (each one is retried). */
  get failedWrites(): number {
    return this.failedWritesTotal;
  }

  /**
   * Writes what is pending (one more try), then stops retrying. Returns how many events could
   * not be written (still pending now, or dropped earlier past the bounds): the caller must say
   * so, history will lack them.
   */
  async close(): Promise<number> {
    await this.drain();
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.scheduled = false;
    const unwritten = this.buffer.length + this.droppedTotal;
    this.buffer = [];
    return unwritten;
  }
}

/** Whether a Redis error says the key does not exist (XINFO STREAM on a stream never written). */
function isNoSuchKey(err: unknown): boolean {
  return err instanceof Error && /^ERR no such key/i.test(err.message);
}

/** Reads the run-event stream for the recorder (its own connection: XREAD BLOCK holds it). */
export class RunEventReader implements RunEventSource {
  /** What Redis knows of these runs now (history repair, see `lookupRuns`). */
  lookup(runs: readonly { id: string; queue: string; since?: number }[]): Promise<Map<string, RunSnapshot>> {
    return lookupRuns(this.redis, this.prefix, runs);
  }

  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
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
    } catch (err) {
      // Only a stream nobody has written yet is empty. Any other failure (connection lost,
      // NOAUTH, NOPERM) is not an answer: read as empty, a reader would restart from 0-0 and
      // report no gap.
      if (!isNoSuchKey(err)) throw err;
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
  'enqueued',
  'active',
  'retrying',
  'completed',
  'failed',
  'cancelled',
  'expired',
  'delayed',
  'requeued',
  'retried',
  'progress',
  'log',
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
