import type { Job } from 'bullmq';
import { errorMessage } from '../../core/errors.js';
import type { RecordsStore } from '../../core/records.js';
import type { RunControl } from '../../core/run-control.js';
import { createRunContext, PROGRESS_INTERVAL_MS } from '../../core/run-context.js';
import type { RunEvent } from '../../core/run-events.js';
import type { TaskContext, TaskLogger } from '../../core/task.js';
import type { ResolvedTask } from '../../config/resolved.js';
import type { Producer } from '../producer.js';

/** How often a failed background write (progress, log line) is reported at most. */
const WARN_EVERY_MS = 60_000;

export interface WorkerContextDeps {
  worker: string;
  records: RecordsStore;
  media: string;
  logger: TaskLogger;
  /** A run event that also goes to the worker's own listener (progress). */
  emit: (event: RunEvent) => void;
  /** A run event for history only (log lines). */
  append: (event: RunEvent) => void;
  /** Now by the Redis server's clock: the time of the events above. */
  now: () => number;
  producer: () => Promise<Producer>;
  /** Shared by the worker's runs, so a Redis outage is reported once a minute, not per run. */
  warnings: { lastBackgroundWarnAt: number };
}

/**
 * A worker run's `ctx`: the shared context with sinks that write to Redis and to the run-event
 * stream. Progress is written at most every PROGRESS_INTERVAL_MS, trailing; the latest value not
 * written yet goes out when the run ends, before its completion (BullMQ tools such as bull-board
 * show a run's final progress, not 0), one command for a run that reported any. Log lines go out
 * without waiting for Redis (BullMQ's client sends them in order, before the run's completion).
 */
export function workerContext(
  job: Job,
  task: ResolvedTask,
  attempt: number,
  control: RunControl,
  deps: WorkerContextDeps,
): { ctx: TaskContext; end: () => void } {
  const base = { jobId: job.id!, task: task.name, queue: job.queueName, attempt };
  // A write the handler does not wait for: a failure is logged (once a minute), not thrown.
  const background = (write: Promise<unknown>) => {
    write.catch((err: unknown) => {
      const now = Date.now();
      if (now - deps.warnings.lastBackgroundWarnAt < WARN_EVERY_MS) return;
      deps.warnings.lastBackgroundWarnAt = now;
      deps.logger.warn(`${task.name}[${job.id}]: progress or log line not saved in Redis (${errorMessage(err)}); history still has it`);
    });
  };
  return createRunContext({
    id: job.id!,
    name: task.name,
    queue: job.queueName,
    attempt,
    signal: () => control.signal,
    db: deps.records,
    media: deps.media,
    logger: deps.logger,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
    sinks: {
      progress: (value) => {
        // The final value too: sent on this connection before the run's completion.
        background(job.updateProgress(value));
        deps.emit({ type: 'progress', ...base, at: deps.now(), progress: value });
      },
      log: (line) => {
        background(job.log(line));
        deps.append({ type: 'log', ...base, at: deps.now(), log: line });
      },
      enqueue: async (name, payload, options) => {
        const run = await (await deps.producer()).enqueue(name, payload, options);
        return { id: run.id };
      },
    },
  });
}
