import type { TaskState } from '../core/states.js';

/** A `task_runs` row as stored (JSON columns are text). */
export interface TaskRunRow {
  job_id: string;
  task: string;
  queue: string;
  payload: string | null;
  state: TaskState;
  result: string | null;
  error: string | null;
  attempt: number;
  worker: string | null;
  enqueued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  runtime_ms: number | null;
  /** JSON array of `{ attempt, error, at }`: every attempt's error. */
  errors: string | null;
  stack: string | null;
  due_at: string | null;
  progress: string | null;
  /** JSON array of the lines the run logged (the last MAX_LOG_LINES). */
  logs: string | null;
  /**
   * When the run last moved (epoch ms, the event's time on Redis's clock): where BullMQ's own
   * events of the run are placed from (older ones are old news).
   */
  moved_at: number | null;
  updated_at: string;
  /** The key prefix whose run this is (several prefixes may share one file). */
  prefix: string;
}

/** Log lines kept per run in history (the newest). */
export const MAX_LOG_LINES = 200;

export interface AttemptError {
  attempt: number;
  error: string;
  at: string;
}

export interface ApplyOptions {
  redactKeys?: readonly string[];
}

/** What history knows of a run besides its id and bookkeeping (`updated_at`, `prefix`): written by the recorder, copied by history sync. */
export const RUN_FACT_COLUMNS = [
  'task',
  'queue',
  'payload',
  'state',
  'result',
  'error',
  'attempt',
  'worker',
  'enqueued_at',
  'started_at',
  'finished_at',
  'runtime_ms',
  'errors',
  'stack',
  'due_at',
  'progress',
  'logs',
  'moved_at',
] as const satisfies readonly (keyof TaskRunRow)[];
