import type { Redis } from 'ioredis';
import type { RunEvent, RunEventSource, RunSnapshot, StreamEntry, StreamInfo } from '../core/run-events.js';
import { tqKeys } from './keys.js';
import { lookupRuns } from './run-lookup.js';
import { QueueEventsReader } from './queue-events.js';

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
  /** BullMQ's event streams of the queues, read on the same connection. */
  readonly queueEvents: QueueEventsReader;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.key = tqKeys(prefix).events;
    this.queueEvents = new QueueEventsReader(redis, prefix);
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
