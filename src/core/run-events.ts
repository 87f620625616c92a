import type { TaskState } from './states.js';

/**
 * A run transition, as appended to the run-event stream by producers and workers and applied
 * to `task_runs` by the recorder. `type` is the state the run moved into; `enqueued` becomes
 * `waiting` or `delayed` depending on `dueAt`; `requeued` (an active run handed back by a worker
 * shutting down) becomes `waiting` again, and so does `retried` (a finished run re-enqueued by
 * `tq control retry`). `progress` and `log` change no state: they carry a
 * progress value or a log line of the run.
 */
export type RunEventType = 'enqueued' | Exclude<TaskState, 'waiting' | 'delayed'> | 'delayed' | 'requeued' | 'retried' | 'progress' | 'log';

export interface RunEvent {
  type: RunEventType;
  jobId: string;
  task: string;
  queue: string;
  /** Epoch ms at which the transition happened. */
  at: number;
  /** Attempts started so far (0 before the first start). */
  attempt: number;
  payload?: unknown;
  result?: unknown;
  error?: string;
  stack?: string;
  worker?: string;
  /** For `enqueued` with a delay/ETA, and for `delayed`/`retrying`: when it becomes due. */
  dueAt?: number;
  /** Runtime of the attempt that finished, ms. */
  runtimeMs?: number;
  /** On an event that ends an attempt: when that attempt started (epoch ms). */
  startedAt?: number;
  progress?: unknown;
  /** A line from ctx.log (type `log`). */
  log?: string;
  /**
   * Seen in BullMQ's own event stream of the queue (written by whatever moved the run: a tq
   * process, bull-board, a plain BullMQ producer or worker), not written by tq. Such an event
   * says what BullMQ did, not which attempt it belongs to: `attempt` is a lower bound, and the
   * recorder places it against what history knows of the run (see the store's `observedMove`).
   * For `retried` and `cancelled` (a run removed before it ended) it carries BullMQ's `prev`.
   */
  observed?: { prev?: string };
}

/**
 * One stream entry: a batch of run events (a writer appends everything it has at a moment as one
 * entry). Empty for an entry that holds no tq run event (skipped, but its id still counts).
 */
export interface StreamEntry {
  id: string;
  events: RunEvent[];
}

/** Event types that end an attempt (they carry `startedAt`, so its `active` event may be left out). */
export const ATTEMPT_END_TYPES: ReadonlySet<RunEventType> = new Set(['completed', 'failed', 'retrying', 'cancelled', 'expired']);

/**
 * Drops an attempt's `active` event when the event that ended the attempt is in the same batch and
 * says when it started: the history row and the monitor end up the same, for half the events.
 */
export function coalesceAttempts(events: readonly RunEvent[]): RunEvent[] {
  let ends: Set<string> | undefined;
  for (const e of events) {
    if (e.startedAt !== undefined && ATTEMPT_END_TYPES.has(e.type)) (ends ??= new Set()).add(`${e.attempt}:${e.jobId}`);
  }
  if (!ends) return events as RunEvent[];
  const found = ends;
  return events.filter((e) => e.type !== 'active' || !found.has(`${e.attempt}:${e.jobId}`));
}

export interface StreamInfo {
  /** Id of the oldest entry still in the stream, or undefined when empty. */
  firstId: string | undefined;
  lastId: string | undefined;
  length: number;
  /** Total entries ever added (Redis >= 7), when known. */
  entriesAdded: number | undefined;
  /** Highest id ever trimmed or deleted (Redis >= 7), when known. */
  maxDeletedId: string | undefined;
}

/** Where the recorder reads run events from (implemented in `src/queue`). */
export interface RunEventSource {
  /** Entries strictly after `afterId`, at most `count`, waiting up to `blockMs` when none. */
  read(afterId: string, count: number, blockMs: number): Promise<StreamEntry[]>;
  info(): Promise<StreamInfo>;
  /** What Redis knows of these runs now (for repairing history); absent: no repair possible. */
  lookup?(runs: readonly { id: string; queue: string; since?: number }[]): Promise<Map<string, RunSnapshot>>;
  /**
   * Queue event streams (BullMQ's own, one per queue) to follow beside the run-event stream;
   * absent: the recorder follows tq's stream only.
   */
  queueEvents?: QueueEventSource;
}

/** Events read from BullMQ's event stream of one queue, as run events. */
export interface QueueEventBatch {
  queue: string;
  /** The id of the last entry read (the position to store). */
  lastId: string;
  /** Entries read (some hold nothing history needs: `drained`, `cleaned`, ...). */
  read: number;
  events: RunEvent[];
}

/** BullMQ's per-queue event streams, read as run events (implemented in `src/queue`). */
export interface QueueEventSource {
  /** The queues to follow: the registry, plus queues found in Redis that nothing registered. */
  queues(): Promise<string[]>;
  /**
   * Entries after each queue's position (at most `count` per queue). `known(id)`: history has
   * the run with its payload already (no need to read the job for it). `until` (epoch ms): leave
   * entries written after it for a later read.
   */
  read(
    positions: ReadonlyMap<string, string>,
    count: number,
    known: (jobId: string) => boolean,
    until?: number,
  ): Promise<QueueEventBatch[]>;
}

/**
 * A run as Redis has it now: ended (with how), still pending there (waiting, delayed, active or
 * retrying: its events will tell), or not there at all (removed, or trimmed after it ended).
 */
export type RunSnapshot =
  | { state: 'pending' }
  | { state: 'missing' }
  | {
      state: 'completed' | 'failed' | 'cancelled' | 'expired';
      /** When it ended (epoch ms, BullMQ's `finishedOn`). */
      at: number;
      attempt: number;
      startedAt?: number;
      result?: unknown;
      error?: string;
    };

/** Compares two stream ids (`ms-seq`). */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const e = BigInt(as) - BigInt(bs);
  return e === 0n ? 0 : e < 0n ? -1 : 1;
}
