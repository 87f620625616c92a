/**
 * Task states: one vocabulary everywhere (CLI, JSON, monitor, SQLite).
 *
 * - waiting   enqueued, not started yet (includes prioritised runs and runs waiting for children)
 * - delayed   enqueued with a delay/ETA, or put back for later (unknown task grace)
 * - active    a worker is running it
 * - retrying  an attempt failed and another one is scheduled
 * - completed the handler returned
 * - failed    attempts exhausted, or an unrecoverable error
 * - cancelled cancelled by a user (final)
 * - expired   not started before its expiry (final)
 * - lost      Redis no longer has the run and history never saw it end (removed by another
 *             client, evicted, trimmed after its end events died with a killed process, or Redis
 *             lost data); a real end that arrives later still replaces it
 */
export const TASK_STATES = ['waiting', 'delayed', 'active', 'retrying', 'completed', 'failed', 'cancelled', 'expired', 'lost'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const FINAL_STATES: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'cancelled', 'expired']);

/**
 * Whether `value` names a final state. Takes any string because run-event types (`completed`,
 * `progress`, ...) share the state words: a final event type is the end of a run.
 */
export function isFinalState(value: string): boolean {
  return (FINAL_STATES as ReadonlySet<string>).has(value);
}

export function isTaskState(value: string): value is TaskState {
  return (TASK_STATES as readonly string[]).includes(value);
}

/** Within one attempt, how far along a run is. Used so a state never moves backwards. */
function phase(state: TaskState): number {
  switch (state) {
    case 'waiting':
    case 'delayed':
      return 0;
    case 'active':
      return 1;
    case 'retrying':
      return 2;
    default:
      return 3;
  }
}

/**
 * Whether an observation (`next` at attempt `nextAttempt`) supersedes what is known
 * (`current` at `currentAttempt`). Final states are never left; a later attempt beats an
 * earlier one; within an attempt, the phase must not go backwards (a late `active` cannot
 * overwrite `completed`, a late `waiting` cannot overwrite `active`).
 */
export function supersedes(
  current: { state: TaskState; attempt: number } | undefined,
  next: { state: TaskState; attempt: number },
): boolean {
  if (!current) return true;
  if (FINAL_STATES.has(current.state)) return false;
  if (next.attempt !== current.attempt) return next.attempt > current.attempt;
  return phase(next.state) >= phase(current.state);
}

/** Maps a BullMQ job state onto tq's vocabulary. */
export function fromBullState(state: string, opts: { willRetry?: boolean } = {}): TaskState {
  switch (state) {
    case 'waiting':
    case 'wait':
    case 'prioritized':
    case 'waiting-children':
    case 'paused':
      return 'waiting';
    case 'delayed':
      return opts.willRetry ? 'retrying' : 'delayed';
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    default:
      return 'waiting';
  }
}
