import { errorMessage } from '../../core/errors.js';
import type { TaskLogger } from '../../core/task.js';
import type { BackendFactory, Job, RedisQueueBackend } from 'bullmq';
import { bullConnection } from '../connection.js';
import { asOutOfMemory } from '../memory.js';
import type { Worker } from '../engine.js';
import { TolerantWorker } from '../unparseable-jobs.js';
import { DEFAULT_KEEP } from '../producer.js';
import type { WorkerRuntimeOptions } from './options.js';

/**
 * One BullMQ `Worker` consuming `queue` for the runtime: its connection, concurrency, lock and
 * stall settings, tq's backoff strategy and the default retention of finished runs.
 */
export function createConsumer(
  queue: string,
  name: string,
  options: WorkerRuntimeOptions,
  handlers: {
    process: (job: Job, token: string | undefined) => Promise<unknown>;
    backoff: (attemptsMade: number, type: string | undefined, job: Job | undefined) => number;
    /** How the consumer reaches Redis (BullMQ's Redis backend, or one wrapping it). */
    backend: BackendFactory<RedisQueueBackend>;
  },
): Worker {
  const { worker: defaults } = options.config;
  // Two parameters, not three: BullMQ creates an AbortController per run only for processors
  // that take its signal, which it aborts only on `worker.cancelJob()`; tq never calls that
  // (cancels travel over tq's control channel), so it would cost every run for nothing.
  const { connection, release } = bullConnection(options.redisUrl, { role: 'worker', name: `tq-worker:${queue}` });
  const worker = new TolerantWorker(
    queue,
    (job, token) => handlers.process(job, token),
    {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      name,
      // A worker killed mid-run must not cost the run its life: recover it many times.
      maxStalledCount: options.maxStalledCount ?? defaults.maxStalledCount,
      lockDuration: options.lockDurationMs ?? defaults.lockDurationMs,
      stalledInterval: options.stalledIntervalMs ?? defaults.stalledIntervalMs,
      settings: { backoffStrategy: (attemptsMade, type, _err, job) => handlers.backoff(attemptsMade, type, job as Job | undefined) },
      autorun: true,
      // Retention of runs whose task sets no `keep` (those that do carry it in their options).
      removeOnComplete: { count: DEFAULT_KEEP.completed },
      removeOnFail: { count: DEFAULT_KEEP.failed },
    },
    handlers.backend,
  );
  // A cluster connection is ours, not BullMQ's: closed once the consumer is.
  worker.once('closed', release);
  return worker;
}

/** A consumer error listener that says each distinct problem once a minute (not per retry). */
export function consumerErrorReporter(logger: TaskLogger, stopping: () => boolean): (err: Error) => void {
  let lastLine = '';
  let lastAt = 0;
  return (err) => {
    // Redis refusing writes for memory reads as one clear line (maxmemory, policy, what to do).
    const line = errorMessage(asOutOfMemory(err));
    const now = Date.now();
    if (line === lastLine && now - lastAt < 60_000) return;
    lastLine = line;
    lastAt = now;
    if (stopping() && /Connection is closed/i.test(line)) return;
    logger.warn(`worker: ${line}`);
  };
}
