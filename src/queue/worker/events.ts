/**
 * What a worker tells history about a run whose attempt ended: a pure mapping from the few Job
 * fields BullMQ hands back with the outcome onto a run event. No Redis, no clock of its own: event
 * times are on the Redis server's clock (`now`, and BullMQ's worker-clock times moved by `offsetMs`).
 */
import type { RunEvent } from '../../core/run-events.js';
import { failureState } from '../../core/run-outcome.js';
import { unwrap } from '../envelope.js';

/** The fields of a BullMQ Job the mapping reads (a Job fits; tests pass plain objects). */
export interface JobFacts {
  id?: string | undefined;
  name: string;
  queueName: string;
  attemptsMade: number;
  opts: {
    attempts?: number | undefined;
    removeOnComplete?: boolean | number | { count?: number | undefined } | undefined;
    removeOnFail?: boolean | number | { count?: number | undefined } | undefined;
  };
  data?: unknown;
  processedOn?: number | undefined;
  finishedOn?: number | undefined;
  stacktrace?: string[] | null | undefined;
}

/** What the worker knows beside the job: who ran it, when its handler started, when it is due again. */
export interface AttemptFacts {
  worker: string;
  /** When the handler started (absent when it never did, e.g. a run failed by a gate). */
  startedAt?: number | undefined;
  /** For a retry: when the next attempt is due (from the backoff). */
  dueAt?: number | undefined;
  /** Now by the server clock. */
  now: number;
  /** Server clock minus this host's: BullMQ stamps `finishedOn` with the worker's `Date.now()`. */
  offsetMs?: number | undefined;
}

const isNamed = (err: { name?: string }, name: string) => err.name === name;

/** Whether BullMQ deletes the job as it ends (`keep: 0`, or a plain producer's `removeOnComplete: true`). */
function goneAtEnd(remove: boolean | number | { count?: number | undefined } | undefined): boolean {
  return remove === true || remove === 0 || (typeof remove === 'object' && remove !== null && remove.count === 0);
}

/**
 * The payload, on the end event of a run Redis drops as it ends: history reads a plain BullMQ
 * producer's payload from the job (tq's producer reports its own), and that job will be gone.
 */
function payloadIfGone(job: JobFacts, remove: JobFacts['opts']['removeOnComplete']): { payload?: unknown } {
  return goneAtEnd(remove) && job.data !== undefined ? { payload: unwrap(job.data).payload } : {};
}

/** The `completed` event of a run whose handler returned `result`. */
export function completedEvent(job: JobFacts, result: unknown, facts: AttemptFacts): RunEvent {
  const runtimeMs = job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : undefined;
  return {
    type: 'completed',
    jobId: job.id!,
    task: job.name,
    queue: job.queueName,
    at: job.finishedOn !== undefined ? job.finishedOn + (facts.offsetMs ?? 0) : facts.now,
    attempt: Math.max(1, job.attemptsMade),
    worker: facts.worker,
    result,
    ...payloadIfGone(job, job.opts.removeOnComplete),
    ...(runtimeMs !== undefined ? { runtimeMs } : {}),
    ...(facts.startedAt !== undefined ? { startedAt: facts.startedAt } : {}),
  };
}

/**
 * The event of an attempt that failed: `retrying` when BullMQ will try again, else the final
 * state its reason stands for (`failed`, `cancelled`, `expired`). Undefined for a run that was
 * only parked (BullMQ's DelayedError: it comes back, nothing failed).
 */
export function failureEvent(
  job: JobFacts,
  err: { name: string; message: string; stack?: string | undefined },
  facts: AttemptFacts,
): RunEvent | undefined {
  if (isNamed(err, 'DelayedError')) return undefined;
  const attempts = job.opts.attempts ?? 1;
  const final = isNamed(err, 'UnrecoverableError') || job.attemptsMade >= attempts || job.finishedOn !== undefined;
  const state = final ? failureState(err.message) : 'retrying';
  const runtimeMs = job.processedOn ? (job.finishedOn ?? facts.now) - job.processedOn : undefined;
  const stack = err.stack ?? job.stacktrace?.[job.stacktrace.length - 1];
  return {
    type: state,
    jobId: job.id!,
    task: job.name,
    queue: job.queueName,
    at: facts.now,
    attempt: Math.max(1, job.attemptsMade),
    worker: facts.worker,
    error: err.message,
    ...(final ? payloadIfGone(job, job.opts.removeOnFail) : {}),
    ...(stack && state === 'failed' ? { stack } : {}),
    ...(runtimeMs !== undefined ? { runtimeMs } : {}),
    ...(facts.startedAt !== undefined ? { startedAt: facts.startedAt } : {}),
    ...(state === 'retrying' && facts.dueAt !== undefined ? { dueAt: facts.dueAt } : {}),
  };
}

/** A line of a run's log, for history only. */
export function logEvent(
  job: { id?: string | undefined; name: string; queueName: string },
  attempt: number,
  log: string,
  at: number,
): RunEvent {
  return { type: 'log', jobId: job.id!, task: job.name, queue: job.queueName, at, attempt, log };
}

/** True when a failure event ends the run for good (counted as failed by the worker). */
export function isFinalFailure(event: RunEvent): boolean {
  return event.type !== 'retrying';
}
