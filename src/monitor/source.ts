import { settlesWithin } from '../core/async.js';
import { isFinalState } from '../core/states.js';
import type { RunEventSource, StreamEntry, StreamInfo } from '../core/run-events.js';
import type { ResolvedConfig } from '../config/index.js';
import {
  Admin,
  queueStats,
  runDetail,
  workerStatuses,
  type CancelOutcome,
  type QueueStats,
  type RunDetail,
  type WorkerStatus,
} from '../queue/index.js';
import { HistoryQueries, lastChangeOf, type Store, type TaskRunRow } from '../store/index.js';
import type { RunFilter } from './filter.js';
import type { HistoryStats, RowKey, RunDetailData, RunRow } from './state.js';

/**
 * Where the monitor's data comes from and where its actions go: Redis through the queue
 * module's inspector and admin, and this host's SQLite history. The only I/O of the monitor
 * (besides the terminal); the controller drives it, tests replace it.
 *
 * Cost per refresh: per queue one counts script, one paused check and one read of the oldest
 * waiting run, plus, for a queue with failed runs, one script that tells cancelled and expired
 * runs from failures inside Redis (O(failed runs kept); see `failedBreakdown`); one heartbeat
 * read (ZRANGE + MGET); one XREAD. Nothing here ever lists a queue's runs over the wire.
 */
export interface MonitorSource {
  snapshot(): Promise<{ queues: QueueStats[]; workers: WorkerStatus[] }>;
  /** Run events after `afterId` (one non-blocking XREAD of at most `count`). */
  readEvents(afterId: string, count: number): Promise<StreamEntry[]>;
  streamInfo(): Promise<StreamInfo>;
  /** Brings this host's history file up to date, so what is read next from it is current. */
  catchUp(): Promise<void>;
  /** Runs from the history by last change, newest first: the newest, or a page beside `key`. */
  recent(filter: RunFilter, limit: number, page?: { direction: 'older' | 'newer'; key: RowKey }): RunRow[];
  historyStats(minutes: number, now: number): HistoryStats;
  detail(id: string): Promise<RunDetailData | undefined>;
  retry(id: string): Promise<{ queue: string; task: string }>;
  cancel(id: string): Promise<CancelOutcome>;
  setPaused(queue: string, paused: boolean): Promise<void>;
  /** Replaces the Redis connection after it was lost; throws while Redis is still away. */
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

export interface MonitorSourceOptions {
  config: ResolvedConfig;
  settings: { redisUrl: string; prefix: string };
  store: Store;
  /** An open connection to start from (the command opens one first so a dead Redis fails fast). */
  admin: Admin;
  /** Applies the run-event stream to the history file (the CLI's recorder catch-up). */
  catchUp?: (events: RunEventSource) => Promise<unknown>;
}

export function createMonitorSource(o: MonitorSourceOptions): MonitorSource {
  let admin = o.admin;
  let reader = admin.runEvents();
  const history = new HistoryQueries(o.store.db, o.store.prefix);
  // `stuck` needs to know which queues have work: the previous refresh's counts serve.
  let lastQueues: QueueStats[] = [];

  return {
    async snapshot() {
      const [queues, workers] = await Promise.all([queueStats(admin, []), workerStatuses(admin, lastQueues)]);
      lastQueues = queues;
      return { queues, workers };
    },
    readEvents: (afterId, count) => reader.read(afterId, count, 0),
    streamInfo: () => reader.info(),
    async catchUp() {
      await o.catchUp?.(reader);
    },
    recent(filter, limit, page) {
      const key = page ? { at: new Date(page.key.at).toISOString(), id: page.key.id } : undefined;
      return history
        .recent({
          match: filter.query,
          limit,
          ...(page?.direction === 'older' ? { before: key } : page?.direction === 'newer' ? { after: key } : {}),
        })
        .map(rowFromHistory);
    },
    historyStats(minutes, now) {
      const finished = history.finishedSince(new Date(now - 3_600_000).toISOString());
      return {
        minutes: history.perMinute(minutes, now),
        byQueue: history.perMinuteByQueue(minutes, now),
        failedLastHour: finished.failed ?? 0,
      };
    },
    async detail(id) {
      const live = await runDetail(admin, id);
      const row = history.get(id);
      return live ? detailFromRedis(live, row) : row ? detailFromHistory(row) : undefined;
    },
    retry: (id) => admin.retry(id),
    cancel: (id) => admin.cancel(id),
    async setPaused(queue, paused) {
      await admin.setPaused(paused, queue);
    },
    async reconnect() {
      const fresh = await Admin.connect(o.config, o.settings);
      const old = admin;
      admin = fresh;
      reader = fresh.runEvents();
      await closeWithin(old, CLOSE_TIMEOUT_MS);
    },
    close: () => closeWithin(admin, CLOSE_TIMEOUT_MS),
  };
}

/** Closing a connection that Redis dropped can wait on it forever; quitting must not. */
const CLOSE_TIMEOUT_MS = 1000;

async function closeWithin(admin: Admin, ms: number): Promise<void> {
  await settlesWithin(admin.close(), ms);
}

export function rowFromHistory(row: TaskRunRow): RunRow {
  return {
    id: row.job_id,
    task: row.task,
    queue: row.queue,
    state: row.state,
    attempt: row.attempt,
    changedAt: Date.parse(lastChangeOf(row)),
    runtimeMs: row.runtime_ms ?? undefined,
    worker: row.worker ?? undefined,
    error: row.error ?? undefined,
  };
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);

function parse<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function detailFromHistory(row: TaskRunRow): RunDetailData {
  return {
    id: row.job_id,
    task: row.task,
    queue: row.queue,
    state: row.state,
    attempt: row.attempt,
    worker: row.worker,
    payload: parse(row.payload, null),
    result: parse(row.result, null),
    error: row.error,
    stack: row.stack,
    errors: parse(row.errors, []),
    progress: parse(row.progress, null),
    logs: parse(row.logs, []),
    enqueuedAt: ms(row.enqueued_at),
    startedAt: ms(row.started_at),
    finishedAt: ms(row.finished_at),
    runtimeMs: row.runtime_ms,
    dueAt: ms(row.due_at),
    source: 'history',
  };
}

/**
 * Redis has the run: its facts are freshest; the history adds every attempt's error, a start
 * Redis no longer says, and a finished run's last progress (as `tq inspect task` shows them).
 */
function detailFromRedis(live: RunDetail, row: TaskRunRow | undefined): RunDetailData {
  const past = row ? detailFromHistory(row) : undefined;
  return {
    id: live.id,
    task: live.task,
    queue: live.queue,
    state: live.state,
    attempt: live.attempt,
    worker: live.worker ?? past?.worker ?? null,
    payload: live.payload,
    result: live.result,
    error: live.error,
    stack: live.stack,
    errors: past?.errors ?? [],
    progress: past && isFinalState(live.state) && past.progress !== null ? past.progress : live.progress,
    logs: live.logs.length ? live.logs : (past?.logs ?? []),
    enqueuedAt: ms(live.enqueuedAt),
    startedAt: ms(live.startedAt) ?? past?.startedAt ?? null,
    finishedAt: ms(live.finishedAt),
    runtimeMs: live.runtimeMs,
    dueAt: ms(live.dueAt),
    source: 'redis',
  };
}
