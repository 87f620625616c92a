import { compareStreamIds, type QueueEventBatch, type RunEventSource, type StreamEntry } from '../core/run-events.js';
import type { SqliteDatabase } from './database.js';
import { getMeta, setMeta, type Statement } from './meta.js';

/** Position in BullMQ's event stream of one queue (key + `:<stream>:<queue>`). */
const QUEUE_POSITION = 'recorder_queue_last_id';

const payloadStatements = new WeakMap<SqliteDatabase, Statement>();

/**
 * Reads BullMQ's own event streams of the queues (when the source offers them), after tq's
 * stream (`entries`, just read): the moves no tq process reported (bull-board, plain BullMQ
 * clients) and the ends tq's stream may have lost. Each queue's position is kept in the file.
 */
export async function readQueueEvents(
  db: SqliteDatabase,
  source: RunEventSource,
  stream: string,
  entries: readonly StreamEntry[],
  count: number,
  lagMs: number,
): Promise<QueueEventBatch[]> {
  const queueEvents = source.queueEvents;
  if (!queueEvents) return [];
  const queues = await queueEvents.queues();
  if (queues.length === 0) return [];
  const positions = new Map<string, string>();
  for (const q of queues) positions.set(q, getMeta(db, `${QUEUE_POSITION}:${stream}:${q}`) ?? '0-0');
  // Runs whose payload history has (or is about to have, from `entries`): their jobs need no read.
  const inBatch = new Set<string>();
  for (const e of entries) for (const ev of e.events) if (ev.type === 'enqueued' && ev.payload !== undefined) inBatch.add(ev.jobId);
  let stmt = payloadStatements.get(db);
  if (!stmt) {
    stmt = db.prepare('SELECT 1 FROM task_runs WHERE job_id = ? AND payload IS NOT NULL');
    payloadStatements.set(db, stmt);
  }
  const hasPayload = stmt;
  const known = (id: string) => inBatch.has(id) || hasPayload.get(id) !== undefined;
  return queueEvents.read(positions, count, known, lagMs > 0 ? Date.now() - lagMs : undefined);
}

/** Stores where each queue's stream was read to (inside the transaction that applied it). */
export function storeQueuePositions(db: SqliteDatabase, stream: string, batches: readonly QueueEventBatch[]): void {
  for (const b of batches) {
    const key = `${QUEUE_POSITION}:${stream}:${b.queue}`;
    // Another recorder (its lease taken over while this one read) may have gone further: never back.
    const stored = getMeta(db, key);
    if (stored === undefined || compareStreamIds(b.lastId, stored) > 0) setMeta(db, key, b.lastId);
  }
}
