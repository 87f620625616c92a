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
  progress?: unknown;
  /** A line from ctx.log (type `log`). */
  log?: string;
}

export interface StreamEntry {
  id: string;
  /** null for an entry that is not a tq run event (skipped, but its id still counts). */
  event: RunEvent | null;
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
}

/** Compares two stream ids (`ms-seq`). */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const e = BigInt(as) - BigInt(bs);
  return e === 0n ? 0 : e < 0n ? -1 : 1;
}
