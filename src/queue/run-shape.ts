import type { JobsOptions } from 'bullmq';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { isPriority, isQueueName, PRIORITY_RULE, QUEUE_NAME_RULE } from '../core/names.js';
import type { RunEvent } from '../core/run-events.js';
import type { ResolvedTask } from '../config/resolved.js';
import { TQ_BACKOFF } from './backoff.js';
import { APP_OPTION, jobData } from './envelope.js';
import { payloadShapeProblem, type EnqueueOptions } from '../core/task.js';
import { checkRunId, newRunId } from './run-id.js';

/**
 * How one enqueue request becomes a BullMQ job and its history event: options checked and
 * resolved against the task's (queue, id, delay or ETA, attempts, priority, expiry, time limit,
 * retention, backoff, dedupe), synchronously, with the enqueue time by the Redis clock.
 */
export interface EnqueueRequest {
  task: string;
  payload?: unknown;
  options?: EnqueueOptions;
}

export interface EnqueuedRun {
  id: string;
  task: string;
  queue: string;
  state: 'waiting' | 'delayed';
  /** True when a run with this id already existed and nothing was added. */
  existed: boolean;
  /** When a delayed run becomes due (epoch ms). */
  dueAt?: number;
}

/** One run shaped for BullMQ and for history (see `Producer.prepare`). */
export interface Prepared {
  task: ResolvedTask;
  queueName: string;
  id: string;
  opts: JobsOptions;
  data: unknown;
  event: RunEvent;
  delay: number;
}

export function enqueuedRun(p: Prepared, existed: boolean): EnqueuedRun {
  return {
    id: p.id,
    task: p.task.name,
    queue: p.queueName,
    state: p.delay > 0 ? 'delayed' : 'waiting',
    existed,
    ...(p.delay > 0 ? { dueAt: p.event.at + p.delay } : {}),
  };
}

export function shapeRun(task: ResolvedTask, request: EnqueueRequest, payload: unknown, now: number, app?: string): Prepared {
  const shapeProblem = payloadShapeProblem({ name: task.name, args: task.args, takesFiles: Boolean(task.definition.fromArgs) }, payload);
  if (shapeProblem !== undefined) throw new UsageError(shapeProblem);
  const options = request.options ?? {};
  const queueName = options.queue ?? task.queue;
  if (!isQueueName(queueName)) throw new UsageError(`queue "${queueName}" must be ${QUEUE_NAME_RULE}`);
  const id = options.id !== undefined ? checkRunId(options.id) : newRunId(now);
  let delay = 0;
  if (options.delay !== undefined) delay = parseDuration(options.delay, '--delay');
  if (options.at !== undefined) {
    const at = options.at instanceof Date ? options.at.getTime() : Date.parse(options.at);
    if (Number.isNaN(at)) throw new UsageError(`--at "${String(options.at)}" is not a date (use ISO 8601, e.g. 2026-01-31T09:00:00Z)`);
    delay = Math.max(0, at - now);
  }
  const attempts = options.attempts ?? task.attempts;
  if (!Number.isInteger(attempts) || attempts < 1) throw new UsageError(`--attempts must be a positive integer (got ${attempts})`);
  const priority = options.priority ?? task.priority;
  if (priority !== undefined && !isPriority(priority)) throw new UsageError(`--priority must be ${PRIORITY_RULE} (got ${priority})`);
  const expiresMs = options.expires !== undefined ? parseDuration(options.expires, '--expires') : task.expiresMs;
  const timeLimitMs = options.timeLimit !== undefined ? parseDuration(options.timeLimit, '--time-limit') : undefined;
  if (timeLimitMs !== undefined && timeLimitMs < 1) throw new UsageError('--time-limit must be positive');
  const keep = task.keep;
  // BullMQ's default is one attempt: leave it out then (every byte of opts is stored per run).
  const opts: JobsOptions = attempts === 1 ? { jobId: id } : { jobId: id, attempts };
  if (keep !== undefined) {
    opts.removeOnComplete = { count: keep };
    opts.removeOnFail = { count: keep };
  }
  if (delay > 0) opts.delay = delay;
  if (priority !== undefined && priority > 0) opts.priority = priority;
  // tq computes backoff itself (BullMQ's has no cap): see `backoffDelay` used by the worker.
  if (task.backoff) opts.backoff = { type: TQ_BACKOFF, delay: task.backoff.delay };
  if (task.dedupe) {
    const key = task.dedupe.key(payload);
    if (typeof key !== 'string' || key.length === 0)
      throw new UsageError(`dedupe.key of task "${task.name}" must return a non-empty string`);
    opts.deduplication = { id: `${task.name}:${key}`, ...(task.dedupe.ttlMs !== undefined ? { ttl: task.dedupe.ttlMs } : {}) };
  }
  const event: RunEvent = {
    type: 'enqueued',
    jobId: id,
    task: task.name,
    queue: queueName,
    at: now,
    attempt: 0,
    payload,
    ...(delay > 0 ? { dueAt: now + delay } : {}),
  };
  // The job's timestamp is the enqueue time by the Redis server's clock (expiry, delays and
  // the unknown-task grace all count from it), not this host's.
  opts.timestamp = now;
  // Whose run this is: a worker of another application on the same prefix leaves it alone.
  if (app !== undefined) (opts as Record<string, unknown>)[APP_OPTION] = app;
  const data = jobData(payload, now, {
    ...(expiresMs !== undefined ? { expiresAt: now + delay + expiresMs } : {}),
    ...(timeLimitMs !== undefined ? { timeLimitMs } : {}),
  });
  return { task, queueName, id, opts, data, event, delay };
}
