import { HEARTBEAT_INTERVAL_MS } from '../queue/heartbeat.js';
import { consumersOf, hasNoConsumer, type QueueStats, type WorkerStatus } from '../queue/index.js';
import { OFFLINE_LINGER_MS, type WorkerRow } from './state.js';

/**
 * Workers as the monitor lists them: the live ones from their heartbeats, plus the ones whose
 * heartbeat just went away, shown `offline` for a minute (so a crash is noticed, not just
 * silently missing) and then dropped.
 */
export function mergeWorkers(previous: readonly WorkerRow[], live: readonly WorkerStatus[], now: number): WorkerRow[] {
  const liveNames = new Set(live.map((w) => w.name));
  const gone = previous
    .filter((w) => !liveNames.has(w.name))
    .map((w) => (w.offlineSince === undefined ? { ...w, offlineSince: now } : w))
    .filter((w) => now - w.offlineSince! < OFFLINE_LINGER_MS);
  const rows: WorkerRow[] = [...live.map((w) => ({ ...w, seenAt: now })), ...gone];
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** Heartbeat age now: what it was when last read, plus the time since. */
export function heartbeatAge(w: WorkerRow, now: number): number {
  return w.heartbeatAgeMs + Math.max(0, now - w.seenAt);
}

/** Two missed beats: probably in trouble (the key expires after three). */
export function isLate(w: WorkerRow, now: number): boolean {
  return w.offlineSince === undefined && heartbeatAge(w, now) > 2 * HEARTBEAT_INTERVAL_MS;
}

export type QueueFlag = 'paused' | 'no-consumer' | 'stuck';

/**
 * What makes a queue stand out: paused; work waiting (or orphaned active) and nobody consuming
 * it (the classic "why is nothing happening" — a worker started with the wrong -Q, see
 * `hasNoConsumer`); or a consumer that is `stuck`.
 */
export function queueFlags(q: QueueStats, workers: readonly WorkerRow[]): QueueFlag[] {
  const flags: QueueFlag[] = [];
  if (q.paused) flags.push('paused');
  if (hasNoConsumer(q)) flags.push('no-consumer');
  if (workers.some((w) => w.offlineSince === undefined && w.stuck && w.queues.includes(q.name))) flags.push('stuck');
  return flags;
}

/** Queues with consumers counted from this refresh's workers (one heartbeat read serves both). */
export function withConsumers(queues: readonly QueueStats[], workers: readonly WorkerStatus[]): QueueStats[] {
  return queues.map((q) => ({ ...q, consumers: consumersOf(q.name, workers) }));
}
