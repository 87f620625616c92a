/**
 * The JSON shapes of queues, workers, runs and tasks: what `tq inspect --json` prints and what
 * `tq web`'s API answers. One module builds them so the two cannot drift (the README documents
 * them once).
 */
import { isFinalState } from '../core/states.js';
import type { ResolvedConfig } from '../config/index.js';
import { hasNoConsumer, type QueueStats, type RunDetail, type WorkerStatus } from '../queue/index.js';
import type { AuditRow, TaskRunRow } from '../store/index.js';

/** A queue's flags: `paused`, and `no-consumer` (see `hasNoConsumer`). */
export function queueFlags(q: QueueStats): string[] {
  const flags: string[] = [];
  if (q.paused) flags.push('paused');
  if (hasNoConsumer(q)) flags.push('no-consumer');
  return flags;
}

export const queueJson = (q: QueueStats) => ({ ...q, flags: queueFlags(q) });

export const workerJson = (w: WorkerStatus, ping?: Map<string, number>) => ({
  name: w.name,
  host: w.host,
  pid: w.pid,
  queues: w.queues,
  concurrency: w.concurrency,
  active: w.active.map((a) => ({ id: a.id, task: a.task, startedAt: new Date(a.startedAt).toISOString() })),
  processed: w.processed,
  failed: w.failed,
  zombies: w.zombies,
  uptimeMs: Date.now() - w.startedAt,
  rssBytes: w.rssBytes,
  version: w.version,
  heartbeatAgeMs: w.heartbeatAgeMs,
  clockOffsetMs: w.clockOffsetMs ?? null,
  lastFetchAt: new Date(w.lastFetchAt).toISOString(),
  stuck: w.stuck,
  stopping: w.stopping === true,
  ...(ping ? { pingMs: ping.get(w.name) ?? null } : {}),
});

export const historyJson = (r: TaskRunRow) => ({
  id: r.job_id,
  task: r.task,
  queue: r.queue,
  state: r.state,
  attempt: r.attempt,
  worker: r.worker,
  enqueuedAt: r.enqueued_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  runtimeMs: r.runtime_ms,
  error: r.error,
});

/** One task of the config as `tq inspect registered` shows it, with the live workers serving it. */
export function registeredJson(config: ResolvedConfig, workers: readonly WorkerStatus[] | undefined) {
  return [...config.tasks.values()].map((t) => ({
    name: t.name,
    queue: t.queue,
    attempts: t.attempts,
    backoff: t.backoff ?? null,
    timeoutMs: t.timeoutMs ?? null,
    rateLimit: t.definition.rateLimit ?? null,
    priority: t.priority ?? null,
    expiresMs: t.expiresMs ?? null,
    isolate: t.isolate,
    description: t.description ?? null,
    // null: not known (Redis unreachable), unlike [] (nobody serves it).
    workers: workers ? workers.filter((w) => w.queues.includes(t.queue)).map((w) => w.name) : null,
  }));
}

/** One run as `tq inspect task` shows it: Redis's view when it has the run, else history's. */
export type RunDetailView = RunDetail & { errors: unknown[]; source: 'redis' | 'history' };

function detailFromHistory(row: TaskRunRow): RunDetail & { errors: unknown[] } {
  const parse = (t: string | null) => (t === null ? null : (JSON.parse(t) as unknown));
  return {
    id: row.job_id,
    task: row.task,
    queue: row.queue,
    state: row.state,
    attempt: row.attempt,
    enqueuedAt: row.enqueued_at ?? row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    payload: parse(row.payload),
    result: parse(row.result),
    error: row.error,
    stack: row.stack,
    progress: parse(row.progress),
    logs: (parse(row.logs) as string[] | null) ?? [],
    worker: row.worker,
    runtimeMs: row.runtime_ms,
    dueAt: row.due_at,
    children: [],
    errors: (parse(row.errors) as unknown[] | null) ?? [],
  };
}

/**
 * Redis's detail completed by history (earlier attempts' errors, logs, a start Redis no longer
 * says), or history's alone. A finished run's progress is history's: the last progress a
 * handler reports reaches history with the run's end, while Redis may hold an earlier one.
 */
export function mergeDetail(live: RunDetail | undefined, row: TaskRunRow | undefined): RunDetailView {
  const fromHistory = row ? detailFromHistory(row) : undefined;
  if (!live) return { ...fromHistory!, source: 'history' };
  const finalProgress = fromHistory && isFinalState(live.state) && fromHistory.progress !== null;
  return {
    ...live,
    startedAt: live.startedAt ?? fromHistory?.startedAt ?? null,
    progress: finalProgress ? fromHistory.progress : live.progress,
    errors: fromHistory?.errors ?? [],
    logs: live.logs.length ? live.logs : (fromHistory?.logs ?? []),
    source: 'redis',
  };
}

/** Audit rows as `GET /api/audit` and `tq inspect audit --json` show them. */
export function auditJson(rows: readonly AuditRow[]) {
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    who: r.who,
    role: r.role,
    action: r.action,
    target: r.target,
    query: r.query,
    result: r.result,
    detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
  }));
}
