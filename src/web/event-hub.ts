/**
 * One reader of the run-event stream per server process, fanned out to every SSE client (and to
 * the metrics): N open dashboards never mean N Redis readers. The stream id is the event id, so a
 * client that reconnects with `Last-Event-ID` gets every entry after it: from the hub's recent
 * buffer, or read once from the stream when it was away longer.
 */
import { compareStreamIds, type RunEvent, type RunEventSource, type StreamEntry } from '../core/run-events.js';
import { errorMessage } from '../core/errors.js';

export interface HubMessage {
  /** The stream id (run events only): what `Last-Event-ID` resumes from. */
  id?: string;
  event: 'runs' | 'queues' | 'workers' | 'bulk' | 'gap';
  data: unknown;
}

export type HubListener = (message: HubMessage) => void;

export interface EventHubOptions {
  /** The blocking reader, on a connection of its own. */
  reader: RunEventSource;
  /** Non-blocking reads for a client resuming from before the buffer (any connection). */
  backfill: RunEventSource;
  /** Queues and workers now, as the API shows them (polled while clients listen). */
  snapshot?: () => Promise<{ queues: unknown; workers: unknown }>;
  /** Entries kept for resuming clients. */
  bufferSize?: number;
  pollMs?: number;
  onError?: (message: string) => void;
  /** What clients may see of run events (the history's redaction of payload keys). */
  redact?: (events: readonly RunEvent[]) => RunEvent[];
}

export class EventHub {
  private lastId = '0-0';
  private readonly buffer: StreamEntry[] = [];
  /** The id of the newest entry dropped from the buffer: the buffer holds everything after it. */
  private floor = '0-0';
  private readonly listeners = new Set<HubListener>();
  private readonly entryListeners = new Set<(events: readonly RunEvent[]) => void>();
  private running = false;
  /** Resolves when `close()` is called: a read that Redis never answers (it is down) must not hold the close. */
  private stop!: () => void;
  private readonly stopped = new Promise<'stopped'>((resolve) => (this.stop = () => resolve('stopped')));
  private loop: Promise<void> | undefined;
  private poller: NodeJS.Timeout | undefined;
  private lastSnapshot = { queues: '', workers: '' };
  /** Entries read by the one reader (a test counts readers by this and by Redis's client list). */
  entriesRead = 0;

  constructor(private readonly options: EventHubOptions) {}

  get clients(): number {
    return this.listeners.size;
  }

  get position(): string {
    return this.lastId;
  }

  /** Starts reading at the stream's end: what happens from now on. */
  async start(): Promise<void> {
    this.lastId = (await this.options.reader.info()).lastId ?? '0-0';
    this.floor = this.lastId;
    this.running = true;
    this.loop = this.run();
    if (this.options.snapshot) {
      this.poller = setInterval(() => void this.poll(), this.options.pollMs ?? 2000);
      this.poller.unref();
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let entries: StreamEntry[];
      try {
        const reading = this.options.reader.read(this.lastId, 500, 1000);
        reading.catch(() => undefined); // settled after close: nobody waits for it any more
        const got = await Promise.race([reading, this.stopped]);
        if (got === 'stopped') return;
        entries = got;
      } catch (err) {
        if (!this.running) return;
        this.options.onError?.(`live events paused, Redis read failed: ${errorMessage(err)}; retrying`);
        await Promise.race([new Promise((r) => setTimeout(r, 1000)), this.stopped]);
        continue;
      }
      for (const entry of entries) this.accept(entry);
    }
  }

  /** One entry: position, buffer and fan-out in one synchronous step (see `subscribe`). */
  private accept(entry: StreamEntry): void {
    if (compareStreamIds(entry.id, this.lastId) <= 0) return;
    this.lastId = entry.id;
    this.entriesRead += 1;
    this.buffer.push(entry);
    if (this.buffer.length > (this.options.bufferSize ?? 5000)) this.floor = this.buffer.shift()!.id;
    for (const l of this.entryListeners) l(entry.events);
    if (entry.events.length > 0) this.publish({ id: entry.id, event: 'runs', data: this.shown(entry.events) });
  }

  private shown(events: readonly RunEvent[]): readonly RunEvent[] {
    return this.options.redact ? this.options.redact(events) : events;
  }

  /**
   * Run events this hub has read after `id` (the recorder's position): exact while `id` is within
   * the buffer, else a lower bound. Costs no Redis command.
   */
  eventsAfter(id: string): number {
    let n = 0;
    for (let i = this.buffer.length - 1; i >= 0 && compareStreamIds(this.buffer[i]!.id, id) > 0; i--) n += this.buffer[i]!.events.length;
    return n;
  }

  /** Sends a message to every client. */
  publish(message: HubMessage): void {
    for (const l of this.listeners) l(message);
  }

  /** Every run event read (the metrics' counters and histograms). */
  onEvents(listener: (events: readonly RunEvent[]) => void): void {
    this.entryListeners.add(listener);
  }

  /**
   * Adds a client. With `after` (its `Last-Event-ID`), every entry after that id is sent first,
   * then live ones, none twice and none missed: live messages that arrive while the backlog is
   * read wait in a queue, and the backlog ends at the position the hub had when the client came.
   */
  async subscribe(listener: HubListener, after?: string): Promise<() => void> {
    const pending: HubMessage[] = [];
    let live = false;
    const wrapped: HubListener = (m) => (live ? listener(m) : pending.push(m));
    this.listeners.add(wrapped);
    const unsubscribe = () => void this.listeners.delete(wrapped);
    let sent = after;
    if (after !== undefined && compareStreamIds(after, this.lastId) < 0) {
      const upTo = this.lastId;
      const backlog = await this.backlog(after, upTo);
      if (backlog.gap) listener({ event: 'gap', data: { after, message: backlog.gap } });
      for (const e of backlog.entries) {
        if (e.events.length > 0) listener({ id: e.id, event: 'runs', data: this.shown(e.events) });
        sent = e.id;
      }
      if (compareStreamIds(sent!, upTo) < 0) sent = upTo;
    }
    for (const m of pending) if (m.id === undefined || sent === undefined || compareStreamIds(m.id, sent) > 0) listener(m);
    live = true;
    return unsubscribe;
  }

  private async backlog(after: string, upTo: string): Promise<{ entries: StreamEntry[]; gap?: string }> {
    if (compareStreamIds(after, this.floor) >= 0) {
      return { entries: this.buffer.filter((e) => compareStreamIds(e.id, after) > 0 && compareStreamIds(e.id, upTo) <= 0) };
    }
    const info = await this.options.backfill.info();
    const gap =
      info.firstId !== undefined && compareStreamIds(info.firstId, after) > 0 && after !== '0-0'
        ? 'the run-event stream was trimmed past this position: some events are gone; reload the lists from /api/runs'
        : undefined;
    const entries: StreamEntry[] = [];
    let cursor = after;
    while (compareStreamIds(cursor, upTo) < 0) {
      const read = await this.options.backfill.read(cursor, 1000, 0);
      if (read.length === 0) break;
      for (const e of read) if (compareStreamIds(e.id, upTo) <= 0) entries.push(e);
      cursor = read[read.length - 1]!.id;
    }
    return gap ? { entries, gap } : { entries };
  }

  private async poll(): Promise<void> {
    if (this.listeners.size === 0 || !this.options.snapshot) return;
    try {
      const now = await this.options.snapshot();
      for (const key of ['queues', 'workers'] as const) {
        const text = JSON.stringify(now[key], (k, v: unknown) => (VOLATILE.has(k) ? undefined : v));
        if (text === this.lastSnapshot[key]) continue;
        this.lastSnapshot[key] = text;
        this.publish({ event: key, data: { [key]: now[key] } });
      }
    } catch (err) {
      this.options.onError?.(`queue and worker changes paused: ${errorMessage(err)}`);
    }
  }

  async close(): Promise<void> {
    this.running = false;
    this.stop();
    if (this.poller) clearInterval(this.poller);
    this.listeners.clear();
    await this.loop?.catch(() => undefined);
  }
}

/** Fields that change on every poll without anything happening (ages, uptimes). */
const VOLATILE = new Set(['uptimeMs', 'heartbeatAgeMs', 'oldestWaitingMs', 'rssBytes', 'clockOffsetMs']);
