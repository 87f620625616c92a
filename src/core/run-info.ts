import type { TaskState } from './states.js';

/** Everything known about one run; the shape of `tq inspect task <id> --json`. */
export interface RunInfo {
  id: string;
  task: string;
  queue: string;
  state: TaskState;
  payload: unknown;
  /** The handler's JSON value (null until the run completed). */
  result: unknown;
  /** The last error, or null. */
  error: string | null;
  /** Attempts started, from 1 (0 before the first start). */
  attempt: number;
  /** The latest progress value reported, or null. */
  progress: unknown;
  /** `ctx.log` lines, oldest first. */
  logs: string[];
  worker: string | null;
  /** ISO times. */
  enqueuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  runtimeMs: number | null;
}
