import type { Redis } from 'ioredis';
import { coalesceAttempts, type RunEvent } from '../core/run-events.js';
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

export { RunEventReader } from './run-stream-reader.js';
