import os from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { formatDuration } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { assertJsonPayload } from '../core/json.js';
import type { RecordsStore } from '../core/records.js';
import type { RunEvent } from '../core/run-events.js';
import type { TaskContext, TaskLogger } from '../core/task.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { connect, redisOptions } from './connection.js';
import { unwrap } from './envelope.js';
import { Producer } from './producer.js';
import { RunEventWriter } from './run-stream.js';

export interface WorkerRuntimeOptions {
  config: ResolvedConfig;
  redisUrl: string;
  prefix: string;
  queues: readonly string[];
  /** Runs at once per queue. */
  concurrency: number;
  name?: string;
  records: RecordsStore;
  logger: TaskLogger;
  /** Every run transition this worker causes (the CLI prints them). */
  onEvent?: (event: RunEvent) => void;
  /** How many times a run may be recovered after its worker died before it fails. */
  maxStalledCount?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export interface ShutdownReport {
  /** Runs still active at the deadline, handed back to their queue. */
  handedBack: string[];
  forced: boolean;
}

interface ActiveRun {
  job: Job;
  token: string | undefined;
  controller: AbortController;
  done: Promise<unknown>;
}

const isNamed = (err: unknown, name: string) => err instanceof Error && err.name === name;

/**
 * A worker process's runtime: one BullMQ `Worker` per queue, tq's handler dispatch and task
 * context, run events for history, the unknown-task grace period, and a bounded shutdown.
 */
export class WorkerRuntime {
  readonly name: string;
  private readonly workers: Worker[] = [];
  private readonly active = new Map<string, ActiveRun>();
  private readonly unknownLogged = new Set<string>();
  private readonly writer: RunEventWriter;
  private producer: Promise<Producer> | undefined;
  private stopping = false;
  private lastErrorLine = '';
  private lastErrorAt = 0;
  processed = 0;
  failed = 0;

  private constructor(
    private readonly options: WorkerRuntimeOptions,
    private readonly redis: Redis,
  ) {
    this.name = options.name ?? `${os.hostname()}.${process.pid}`;
    this.writer = new RunEventWriter(redis, options.prefix, options.config.history.streamMaxLen, (err) =>
      options.logger.warn(`history events not written yet (${errorMessage(err)}); retrying`),
    );
  }

  /** Connects (failing fast when Redis is unreachable at start) and starts consuming. */
  static async start(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
    const redis = await connect(options.redisUrl, {
      role: 'worker',
      name: 'tq-worker-events',
      onStateChange: (state, detail) =>
        state === 'lost'
          ? options.logger.warn(`Redis connection lost (${detail})`)
          : options.logger.info('Redis connection restored; consuming again'),
    });
    const runtime = new WorkerRuntime(options, redis);
    runtime.startWorkers();
    await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
    return runtime;
  }

  get activeCount(): number {
    return this.active.size;
  }

  private startWorkers(): void {
    const { options } = this;
    for (const queue of options.queues) {
      const worker = new Worker(queue, (job, token, signal) => this.process(job, token, signal), {
        connection: redisOptions(options.redisUrl, { role: 'worker', name: `tq-worker:${queue}` }) as ConnectionOptions,
        prefix: options.prefix,
        concurrency: options.concurrency,
        name: this.name,
        // A worker killed mid-run must not cost the run its life: recover it many times.
        maxStalledCount: options.maxStalledCount ?? 20,
        lockDuration: options.lockDurationMs ?? 20_000,
        stalledInterval: options.stalledIntervalMs ?? 10_000,
        autorun: true,
      });
      worker.on('completed', (job, result) => this.onCompleted(job, result));
      worker.on('failed', (job, err) => this.onFailed(job, err));
      worker.on('error', (err) => this.onWorkerError(err));
      this.workers.push(worker);
    }
  }

  private emit(event: RunEvent): void {
    this.writer.append(event);
    this.options.onEvent?.(event);
  }

  private async process(job: Job, token: string | undefined, bullSignal?: AbortSignal): Promise<unknown> {
    const { config } = this.options;
    const task = config.tasks.get(job.name);
    if (!task) return this.unknownTask(job, token);
    const { payload } = unwrap(job.data);
    const attempt = Math.max(1, job.attemptsStarted);
    const controller = new AbortController();
    const onBullAbort = () => controller.abort(bullSignal?.reason ?? new Error('cancelled'));
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });

    this.emit({ type: 'active', jobId: job.id!, task: task.name, queue: job.queueName, at: Date.now(), attempt, worker: this.name });

    const ctx: TaskContext = {
      id: job.id!,
      name: task.name,
      queue: job.queueName,
      attempt,
      signal: controller.signal,
      progress: async (value) => {
        await job.updateProgress(value);
      },
      log: async (line) => {
        await job.log(String(line));
      },
      db: this.options.records,
      media: config.mediaDir,
      enqueue: async (name, childPayload, opts) => {
        const producer = await this.getProducer();
        const run = await producer.enqueue(name, childPayload, opts);
        return { id: run.id };
      },
      logger: this.options.logger,
    };

    const done = (async () => task.definition.run(payload, ctx))();
    this.active.set(job.id!, { job, token, controller, done });
    try {
      const result = await done;
      const value = result === undefined ? null : result;
      assertJsonPayload(value, 'result', Number.MAX_SAFE_INTEGER);
      return value;
    } catch (err) {
      throw this.classify(err, task.definition.retryOn);
    } finally {
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.active.delete(job.id!);
    }
  }

  /** Maps a handler error onto BullMQ's retry decision, keeping the original message and stack. */
  private classify(err: unknown, retryOn: ((err: unknown) => boolean) | undefined): unknown {
    const error = err instanceof Error ? err : new Error(String(err));
    let final = isNamed(error, 'FatalTaskError') || isNamed(error, 'UnrecoverableError') || isNamed(error, 'UsageError');
    if (!final && retryOn) {
      try {
        final = !retryOn(error);
      } catch (retryErr) {
        this.options.logger.warn(`retryOn threw (${errorMessage(retryErr)}); not retrying`);
        final = true;
      }
    }
    if (!final) return error;
    const unrecoverable = new UnrecoverableError(error.message);
    if (error.stack) unrecoverable.stack = error.stack;
    return unrecoverable;
  }

  /**
   * A run of a task this worker does not know: during a rolling deploy a newer worker may know
   * it, so put it back (delayed) for the grace period, logging once per task; then fail it.
   */
  private async unknownTask(job: Job, token: string | undefined): Promise<never> {
    const { config, logger } = this.options;
    const graceMs = config.worker.unknownTaskGraceMs;
    const { enqueuedAt } = unwrap(job.data);
    const age = Date.now() - (enqueuedAt ?? job.timestamp);
    const known = [...config.tasks.keys()].sort().join(', ');
    if (age < graceMs && token) {
      if (!this.unknownLogged.has(job.name)) {
        this.unknownLogged.add(job.name);
        logger.warn(
          `unknown task "${job.name}" in queue "${job.queueName}" (this worker knows: ${known}); putting its runs back for up to ${formatDuration(graceMs)} in case a newer worker knows it`,
        );
      }
      const step = Math.min(Math.max(1000, graceMs / 10), 60_000, graceMs - age);
      const dueAt = Date.now() + Math.max(step, 100);
      await job.moveToDelayed(dueAt, token);
      this.emit({ type: 'delayed', jobId: job.id!, task: job.name, queue: job.queueName, at: Date.now(), attempt: 0, dueAt });
      throw new DelayedError();
    }
    throw new UnrecoverableError(`unknown task "${job.name}": no worker knew it within ${formatDuration(graceMs)} (known here: ${known})`);
  }

  private onCompleted(job: Job, result: unknown): void {
    this.processed += 1;
    const runtimeMs = job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : undefined;
    this.emit({
      type: 'completed',
      jobId: job.id!,
      task: job.name,
      queue: job.queueName,
      at: job.finishedOn ?? Date.now(),
      attempt: Math.max(1, job.attemptsStarted),
      worker: this.name,
      result,
      ...(runtimeMs !== undefined ? { runtimeMs } : {}),
    });
  }

  private onFailed(job: Job | undefined, err: Error): void {
    if (!job || err instanceof DelayedError || isNamed(err, 'DelayedError')) return;
    const attempts = job.opts.attempts ?? 1;
    const final = isNamed(err, 'UnrecoverableError') || job.attemptsMade >= attempts || job.finishedOn !== undefined;
    if (final) this.failed += 1;
    const runtimeMs = job.processedOn ? (job.finishedOn ?? Date.now()) - job.processedOn : undefined;
    const stack = err.stack ?? job.stacktrace?.[job.stacktrace.length - 1];
    this.emit({
      type: final ? 'failed' : 'retrying',
      jobId: job.id!,
      task: job.name,
      queue: job.queueName,
      at: Date.now(),
      attempt: Math.max(1, job.attemptsStarted),
      worker: this.name,
      error: err.message,
      ...(stack ? { stack } : {}),
      ...(runtimeMs !== undefined ? { runtimeMs } : {}),
    });
  }

  private onWorkerError(err: Error): void {
    // BullMQ reports every failed reconnect attempt; say each distinct problem once a minute.
    const line = errorMessage(err);
    const now = Date.now();
    if (line === this.lastErrorLine && now - this.lastErrorAt < 60_000) return;
    this.lastErrorLine = line;
    this.lastErrorAt = now;
    if (this.stopping && /Connection is closed/i.test(line)) return;
    this.options.logger.warn(`worker: ${line}`);
  }

  private getProducer(): Promise<Producer> {
    this.producer ??= Producer.connect(this.options.config, { redisUrl: this.options.redisUrl, prefix: this.options.prefix });
    return this.producer;
  }

  /**
   * Warm shutdown: stop fetching, let active runs finish for up to `timeoutMs`, then hand the
   * rest back to their queue at once (not left for stall detection) and abort their signals.
   */
  async shutdown(timeoutMs: number): Promise<ShutdownReport> {
    this.stopping = true;
    await Promise.all(this.workers.map((w) => w.pause(true).catch(() => undefined)));
    const drained = await waitFor(
      Promise.allSettled([...this.active.values()].map((a) => a.done)),
      timeoutMs,
    );
    const handedBack: string[] = [];
    if (!drained) {
      for (const [id, run] of this.active) {
        run.controller.abort(new Error('worker shutting down'));
        try {
          await run.job.moveToWait(run.token);
          handedBack.push(id);
          this.emit({
            type: 'requeued',
            jobId: id,
            task: run.job.name,
            queue: run.job.queueName,
            at: Date.now(),
            attempt: Math.max(1, run.job.attemptsStarted),
            worker: this.name,
          });
        } catch (err) {
          this.options.logger.warn(`could not hand run ${id} back (${errorMessage(err)}); it will be recovered as stalled`);
        }
      }
    }
    await Promise.all(this.workers.map((w) => w.close(!drained).catch(() => undefined)));
    await waitFor(this.writer.flush(), 5000);
    if (this.producer) await (await this.producer.catch(() => undefined))?.close();
    this.redis.disconnect();
    return { handedBack, forced: !drained };
  }
}

async function waitFor(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
