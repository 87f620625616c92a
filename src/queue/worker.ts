import os from 'node:os';
import type { ConnectionOptions, Job } from 'bullmq';
import { DelayedError, UnrecoverableError, Worker } from './engine.js';
import type { Redis } from 'ioredis';
import { formatDuration } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { assertJsonPayload } from '../core/json.js';
import type { RecordsStore } from '../core/records.js';
import type { RunEvent } from '../core/run-events.js';
import { validateWithSchema } from '../core/schema.js';
import type { TaskContext, TaskLogger } from '../core/task.js';
import type { ResolvedConfig, ResolvedTask } from '../config/resolved.js';
import { backoffDelay, TQ_BACKOFF } from './backoff.js';
import { CancelRegistry } from './cancel-registry.js';
import { ServerClock } from './clock.js';
import { connect, redisOptions } from './connection.js';
import { ControlSubscriber, type ControlMessage } from './control.js';
import { unwrap, withRateSlot } from './envelope.js';
import { CANCELLED, EXPIRED, failureState, reasonMessage, RunAborted, TIME_LIMIT } from './outcomes.js';
import { DEFAULT_KEEP, Producer } from './producer.js';
import { HeartbeatPublisher } from './heartbeat.js';
import { RateLimiter } from './rate-limit.js';
import { RunEventWriter } from './run-stream.js';

/** Runs a handler somewhere else (a child process) when the task says `isolate: true`. */
export type IsolatedRun = (request: {
  task: string;
  payload: unknown;
  ctx: Pick<TaskContext, 'id' | 'name' | 'queue' | 'attempt' | 'progress' | 'log'>;
  signal: AbortSignal;
}) => Promise<unknown>;

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
  /** Called once when zombies exceed `config.worker.maxZombies`: the worker wants a restart. */
  onZombieLimit?: (zombies: number) => void;
  /** Called when a control message asks this worker to shut down. */
  onShutdownRequest?: () => void;
  /** tq version, for heartbeats. */
  version?: string;
  /** Runner for `isolate: true` tasks. */
  isolated?: IsolatedRun;
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
  task: string;
  control: RunControl;
  done: Promise<unknown>;
  startedAt: number;
}

const isNamed = (err: unknown, name: string) => err instanceof Error && err.name === name;
/**
 * How long a worker's run events wait for company before they are written (one XADD for all);
 * also how often the recorders reading the stream are woken by this worker at most.
 */
const EVENT_BATCH_MS = 20;
/** How often a run's progress is written (Redis and history) at most; trailing. */
const PROGRESS_INTERVAL_MS = 250;
const DONE = Promise.resolve();
/** How long an aborted handler may take to settle before it counts as a zombie. */
const ABORT_GRACE_MS = 250;

/**
 * A worker process's runtime: one BullMQ `Worker` per queue, tq's handler dispatch and task
 * context, time limits, cancellation, expiry and rate limits, run events for history, the
 * unknown-task grace period, and a bounded shutdown.
 */
export class WorkerRuntime {
  readonly name: string;
  readonly startedAt = Date.now();
  private readonly workers: Worker[] = [];
  private readonly active = new Map<string, ActiveRun>();
  private readonly unknownLogged = new Set<string>();
  private readonly writer: RunEventWriter;
  private readonly clock: ServerClock;
  private readonly cancels: CancelRegistry;
  private readonly rate: RateLimiter;
  private readonly retryAt = new Map<string, number>();
  /** When each run's handler started (the job objects BullMQ hands back with its outcome). */
  private readonly started = new WeakMap<Job, number>();
  private control: ControlSubscriber | undefined;
  private heartbeat: HeartbeatPublisher | undefined;
  private producer: Promise<Producer> | undefined;
  private stopping = false;
  private zombieLimitReported = false;
  private lastErrorLine = '';
  private lastErrorAt = 0;
  private lastBackgroundWarnAt = 0;
  /** Completions whose event is not made yet (see `defer`). */
  private completions: { job: Job; result: unknown }[] = [];
  /** Handlers still running after their run ended (they ignored ctx.signal). */
  zombies = 0;
  processed = 0;
  failed = 0;
  lastFetchAt = 0;

  private constructor(
    private readonly options: WorkerRuntimeOptions,
    private readonly redis: Redis,
  ) {
    this.name = options.name ?? `${os.hostname()}.${process.pid}`;
    this.writer = new RunEventWriter(
      redis,
      options.prefix,
      options.config.history.streamMaxLen,
      (err) => options.logger.warn(`history events not written yet (${errorMessage(err)}); retrying`),
      EVENT_BATCH_MS,
    );
    this.clock = new ServerClock(redis);
    this.cancels = new CancelRegistry(redis, options.prefix);
    this.rate = new RateLimiter(redis, options.prefix);
  }

  /** Connects (failing fast when Redis is unreachable at start) and starts consuming. */
  static async start(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
    let runtime: WorkerRuntime | undefined;
    const redis = await connect(options.redisUrl, {
      role: 'worker',
      name: 'tq-worker-events',
      onStateChange: (state, detail) => {
        if (runtime?.stopping) return;
        if (state === 'lost') options.logger.warn(`Redis connection lost (${detail})`);
        else options.logger.info('Redis connection restored; consuming again');
      },
    });
    runtime = new WorkerRuntime(options, redis);
    try {
      await runtime.clock.sync();
      await runtime.cancels.sync();
      const rt = runtime;
      runtime.control = await ControlSubscriber.open(
        options.redisUrl,
        options.prefix,
        (message) => rt.onControl(message),
        () => void rt.afterReconnect(),
      );
      await runtime.warmUp();
      runtime.startWorkers();
      await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
      runtime.lastFetchAt = Date.now();
      runtime.startHeartbeat();
    } catch (err) {
      runtime.control?.close();
      await Promise.all(runtime.workers.map((w) => w.close(true).catch(() => undefined)));
      redis.disconnect();
      throw err;
    }
    return runtime;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Ids and tasks of the runs in progress (for heartbeats). */
  activeRuns(): { id: string; task: string; startedAt: number }[] {
    return [...this.active.entries()].map(([id, run]) => ({ id, task: run.task, startedAt: run.startedAt }));
  }

  get queues(): readonly string[] {
    return this.options.queues;
  }

  private startHeartbeat(): void {
    this.heartbeat = new HeartbeatPublisher(this.redis, this.options.prefix, () => ({
      name: this.name,
      queues: [...this.options.queues],
      concurrency: this.options.concurrency,
      active: this.activeRuns(),
      processed: this.processed,
      failed: this.failed,
      zombies: this.zombies,
      startedAt: this.startedAt,
      lastFetchAt: this.lastFetchAt,
      version: this.options.version ?? 'unknown',
    }));
    this.heartbeat.start();
  }

  /**
   * Runs the `warmup` of every task whose queue this worker serves (an isolated task warms up in
   * its own child process instead), before the first run is taken. A failure is only logged: the
   * first run of that task meets the problem and fails with its reason.
   */
  private async warmUp(): Promise<void> {
    const served = new Set(this.options.queues);
    const tasks = [...this.options.config.tasks.values()].filter((t) => t.definition.warmup && served.has(t.queue) && !(t.isolate && this.options.isolated));
    await Promise.all(
      tasks.map(async (task) => {
        try {
          await task.definition.warmup!();
        } catch (err) {
          this.options.logger.warn(`${task.name}: warmup failed (${errorMessage(err)}); its runs will meet the same problem`);
        }
      }),
    );
  }

  private startWorkers(): void {
    const { options } = this;
    for (const queue of options.queues) {
      // Two parameters, not three: BullMQ creates an AbortController per run only for processors
      // that take its signal, which it aborts only on `worker.cancelJob()`; tq never calls that
      // (cancels travel over tq's control channel), so it would cost every run for nothing.
      const worker = new Worker(queue, (job, token) => this.process(job, token), {
        connection: redisOptions(options.redisUrl, { role: 'worker', name: `tq-worker:${queue}` }) as ConnectionOptions,
        prefix: options.prefix,
        concurrency: options.concurrency,
        name: this.name,
        // A worker killed mid-run must not cost the run its life: recover it many times.
        maxStalledCount: options.maxStalledCount ?? options.config.worker.maxStalledCount,
        lockDuration: options.lockDurationMs ?? options.config.worker.lockDurationMs,
        stalledInterval: options.stalledIntervalMs ?? options.config.worker.stalledIntervalMs,
        settings: { backoffStrategy: (attemptsMade, type, _err, job) => this.backoff(attemptsMade, type, job as Job | undefined) },
        autorun: true,
        // Retention of runs whose task sets no `keep` (those that do carry it in their options).
        removeOnComplete: { count: DEFAULT_KEEP.completed },
        removeOnFail: { count: DEFAULT_KEEP.failed },
      });
      worker.on('completed', (job, result) => {
        this.processed += 1;
        this.defer(job, result);
      });
      worker.on('failed', (job, err) => this.onFailed(job, err));
      worker.on('error', (err) => this.onWorkerError(err));
      // Finding the queue empty also proves the fetch loop is alive (see "stuck" in inspect).
      worker.on('drained', () => {
        this.lastFetchAt = Date.now();
      });
      this.workers.push(worker);
    }
  }

  private backoff(attemptsMade: number, type: string | undefined, job: Job | undefined): number {
    const task = job ? this.options.config.tasks.get(job.name) : undefined;
    if (type !== TQ_BACKOFF || !task?.backoff) return 0;
    const delay = backoffDelay(task.backoff, attemptsMade);
    if (job?.id) this.retryAt.set(job.id, Date.now() + delay);
    return delay;
  }

  private emit(event: RunEvent): void {
    this.writer.append(event);
    this.options.onEvent?.(event);
  }

  private onControl(message: ControlMessage): void {
    if (message.type === 'cancel') {
      this.cancels.add(message.id, message.reason ?? 'cancelled');
      this.active.get(message.id)?.control.abort(new RunAborted(CANCELLED, reasonMessage(CANCELLED, message.reason ?? 'cancelled by user')));
    } else if (message.type === 'shutdown') {
      if (!message.worker || message.worker === this.name) this.options.onShutdownRequest?.();
    } else if (message.type === 'ping') {
      void this.redis
        .publish(message.replyTo, JSON.stringify({ name: this.name, sentAt: message.sentAt, at: Date.now() }))
        .catch(() => undefined);
    }
  }

  /** Pub/sub dropped whatever was sent while disconnected: re-read the durable requests. */
  private async afterReconnect(): Promise<void> {
    try {
      await this.cancels.sync();
      for (const [id, run] of this.active) {
        const reason = this.cancels.get(id);
        if (reason) run.control.abort(new RunAborted(CANCELLED, reasonMessage(CANCELLED, reason)));
      }
    } catch (err) {
      this.options.logger.warn(`could not re-read cancel requests after reconnecting (${errorMessage(err)})`);
    }
  }

  private async process(job: Job, token: string | undefined): Promise<unknown> {
    this.lastFetchAt = Date.now();
    const { config } = this.options;
    const task = config.tasks.get(job.name);
    if (!task) return this.unknownTask(job, token);
    const env = unwrap(job.data);
    const attempt = job.attemptsMade + 1;
    const base = { jobId: job.id!, task: task.name, queue: job.queueName, attempt, worker: this.name };

    const cancelled = this.cancels.get(job.id!);
    if (cancelled) throw new UnrecoverableError(reasonMessage(CANCELLED, cancelled));
    if (env.expiresAt !== undefined || task.rateLimit) await this.clock.fresh().catch(() => undefined);
    if (env.expiresAt !== undefined && this.clock.now() > env.expiresAt) {
      const lateBy = formatDuration(this.clock.now() - env.expiresAt);
      throw new UnrecoverableError(reasonMessage(EXPIRED, `not started before it expired at ${new Date(env.expiresAt).toISOString()} (${lateBy} late)`));
    }
    if (task.rateLimit && token && !(env.rateSlot !== undefined && this.clock.now() >= env.rateSlot - 5)) {
      const { slot, now } = await this.rate.reserve(task.name, task.rateLimit);
      if (slot > now + 5) {
        // Park the run until its reserved slot; this spends no attempt and blocks nothing else.
        await job.updateData(withRateSlot(job.data, slot, job.timestamp));
        const dueAt = Date.now() + (slot - now);
        await job.moveToDelayed(dueAt, token);
        this.emit({ type: 'delayed', ...base, at: Date.now(), dueAt });
        throw new DelayedError();
      }
    }

    let payload = env.payload;
    if (task.schema) {
      payload = await validateWithSchema(task.schema, payload, (m) => new UnrecoverableError(`invalid payload: ${m}`));
    }

    const control = new RunControl();
    const timeLimitMs = env.timeLimitMs ?? task.timeoutMs;
    const timer =
      timeLimitMs !== undefined
        ? setTimeout(
            () => control.abort(new RunAborted(TIME_LIMIT, reasonMessage(TIME_LIMIT, `run exceeded its ${formatDuration(timeLimitMs)} time limit`))),
            timeLimitMs,
          )
        : undefined;

    const startedAt = Date.now();
    this.started.set(job, startedAt);
    this.emit({ type: 'active', ...base, at: startedAt });
    const { ctx, end: endContext } = this.context(job, task, attempt, control);
    let done: Promise<unknown>;
    try {
      // Called directly (not from a microtask): a no-op run costs that much less. A handler that
      // throws synchronously fails its run like one that rejects.
      const value =
        task.isolate && this.options.isolated
          ? this.options.isolated({ task: task.name, payload, ctx, signal: control.signal })
          : task.definition.run(payload, ctx);
      done = Promise.resolve(value);
    } catch (err) {
      done = Promise.reject(err);
    }
    this.active.set(job.id!, { job, token, task: task.name, control, done, startedAt });
    try {
      // The run ends when the handler settles, or at once when it is aborted for a time limit
      // or a cancel, even if the handler ignores its signal (it then runs on as a zombie).
      const result = await control.race(done);
      const value = result === undefined ? null : result;
      assertJsonPayload(value, 'result', Number.MAX_SAFE_INTEGER);
      return value;
    } catch (err) {
      if (err instanceof RunAborted) {
        // A handler that honours its signal settles within moments; only one that does not is a
        // zombie. An isolated handler's process is killed outright: it cannot linger.
        if (!control.settled) await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, ABORT_GRACE_MS))]);
        if (!control.settled && !(task.isolate && this.options.isolated)) this.trackZombie(job, task.name, done);
        throw new UnrecoverableError(err.message);
      }
      throw this.classify(err, task.definition.retryOn);
    } finally {
      clearTimeout(timer);
      endContext();
      this.active.delete(job.id!);
    }
  }

  /**
   * The handler's `ctx`, and `end()` to call when the run ends. Progress is written to Redis and
   * to history at most every PROGRESS_INTERVAL_MS, trailing (the latest value wins): a handler
   * may report progress as often as it likes without a round trip per call, and a short run
   * costs none at all (its final progress still reaches history when it ends).
   */
  private context(job: Job, task: ResolvedTask, attempt: number, control: RunControl): { ctx: TaskContext; end: () => void } {
    const { config } = this.options;
    let timer: NodeJS.Timeout | undefined;
    let latest: number | Record<string, unknown> | undefined;
    const progressEvent = (value: number | Record<string, unknown>) =>
      this.emit({ type: 'progress', jobId: job.id!, task: task.name, queue: job.queueName, at: Date.now(), attempt, progress: value });
    const flush = () => {
      timer = undefined;
      if (latest === undefined) return;
      const value = latest;
      latest = undefined;
      this.background(job.updateProgress(value), task.name, job.id!);
      progressEvent(value);
    };
    let ended = false;
    const end = () => {
      ended = true;
      clearTimeout(timer);
      timer = undefined;
      if (latest !== undefined) progressEvent(latest);
      latest = undefined;
    };
    const ctx: TaskContext = {
      id: job.id!,
      name: task.name,
      queue: job.queueName,
      attempt,
      // Made on first use: most handlers never look at it, and every run would pay for it.
      get signal() {
        return control.signal;
      },
      progress: (value) => {
        // A zombie handler (its run already ended) reports to nobody.
        if (ended) return DONE;
        latest = value;
        timer ??= setTimeout(flush, PROGRESS_INTERVAL_MS);
        return DONE;
      },
      // A log line goes out without waiting for Redis (BullMQ's client sends it in order,
      // before the run's completion); a failure is logged, not thrown at the handler.
      log: (line) => {
        const text = String(line);
        this.background(job.log(text), task.name, job.id!);
        this.writer.append({ type: 'log', jobId: job.id!, task: task.name, queue: job.queueName, at: Date.now(), attempt, log: text });
        return DONE;
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
    return { ctx, end };
  }

  /** A Redis write a handler does not wait for: a failure is logged (once a minute), not thrown. */
  private background(write: Promise<unknown>, task: string, id: string): void {
    write.catch((err: unknown) => {
      const now = Date.now();
      if (now - this.lastBackgroundWarnAt < 60_000) return;
      this.lastBackgroundWarnAt = now;
      this.options.logger.warn(`${task}[${id}]: progress or log line not saved in Redis (${errorMessage(err)}); history still has it`);
    });
  }

  private trackZombie(job: Job, task: string, done: Promise<unknown>): void {
    this.zombies += 1;
    const max = this.options.config.worker.maxZombies;
    this.options.logger.warn(
      `${task}[${job.id}] ignored its abort signal and keeps running as a zombie (${this.zombies} now; this worker restarts itself past ${max})`,
    );
    void done
      .catch(() => undefined)
      .finally(() => {
        this.zombies -= 1;
      });
    if (this.zombies > max && !this.zombieLimitReported) {
      this.zombieLimitReported = true;
      this.options.onZombieLimit?.(this.zombies);
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
      this.emit({ type: 'delayed', jobId: job.id!, task: job.name, queue: job.queueName, at: Date.now(), attempt: job.attemptsMade + 1, dueAt });
      throw new DelayedError();
    }
    throw new UnrecoverableError(`unknown task "${job.name}": no worker knew it within ${formatDuration(graceMs)} (known here: ${known})`);
  }

  /** `startedAt` for the event that ends a run whose handler started (none when it never did). */
  private startOf(job: Job): { startedAt?: number } {
    const at = this.started.get(job);
    return at === undefined ? {} : { startedAt: at };
  }

  /**
   * BullMQ reports a completion before it starts the next run it fetched along with it: the
   * completion's event and log line are made after this turn's runs have started instead
   * (setImmediate), off the path from one run to the next.
   */
  private defer(job: Job, result: unknown): void {
    this.completions.push({ job, result });
    if (this.completions.length === 1) setImmediate(() => this.flushCompletions());
  }

  private flushCompletions(): void {
    const done = this.completions;
    this.completions = [];
    for (const { job, result } of done) this.onCompleted(job, result);
  }

  private onCompleted(job: Job, result: unknown): void {
    const runtimeMs = job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : undefined;
    this.emit({
      type: 'completed',
      jobId: job.id!,
      task: job.name,
      queue: job.queueName,
      at: job.finishedOn ?? Date.now(),
      attempt: Math.max(1, job.attemptsMade),
      worker: this.name,
      result,
      ...(runtimeMs !== undefined ? { runtimeMs } : {}),
      ...this.startOf(job),
    });
  }

  private onFailed(job: Job | undefined, err: Error): void {
    if (!job || err instanceof DelayedError || isNamed(err, 'DelayedError')) return;
    const attempts = job.opts.attempts ?? 1;
    const final = isNamed(err, 'UnrecoverableError') || job.attemptsMade >= attempts || job.finishedOn !== undefined;
    const state = final ? failureState(err.message) : 'retrying';
    if (final) this.failed += 1;
    const runtimeMs = job.processedOn ? (job.finishedOn ?? Date.now()) - job.processedOn : undefined;
    const stack = err.stack ?? job.stacktrace?.[job.stacktrace.length - 1];
    const dueAt = this.retryAt.get(job.id!);
    this.retryAt.delete(job.id!);
    this.emit({
      type: state,
      jobId: job.id!,
      task: job.name,
      queue: job.queueName,
      at: Date.now(),
      attempt: Math.max(1, job.attemptsMade),
      worker: this.name,
      error: err.message,
      ...(stack && state === 'failed' ? { stack } : {}),
      ...(runtimeMs !== undefined ? { runtimeMs } : {}),
      ...this.startOf(job),
      ...(state === 'retrying' && dueAt !== undefined ? { dueAt } : {}),
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
        run.control.abort(new RunAborted('Shutdown', 'worker shutting down; the run goes back to its queue'));
        try {
          await run.job.moveToWait(run.token);
          handedBack.push(id);
          this.emit({
            type: 'requeued',
            jobId: id,
            task: run.job.name,
            queue: run.job.queueName,
            at: Date.now(),
            attempt: run.job.attemptsMade + 1,
            worker: this.name,
          });
        } catch (err) {
          this.options.logger.warn(`could not hand run ${id} back (${errorMessage(err)}); it will be recovered as stalled`);
        }
      }
    }
    this.control?.close();
    await this.heartbeat?.stop(this.name).catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.close(!drained).catch(() => undefined)));
    this.flushCompletions();
    await waitFor(this.writer.flush(), 5000);
    if (this.producer) await (await this.producer.catch(() => undefined))?.close();
    this.redis.disconnect();
    return { handedBack, forced: !drained };
  }
}

/**
 * How a run is aborted (time limit, cancel, shutdown). Its AbortSignal is created only when the
 * handler (or an isolated runner) asks for it; `race` ends the run at once on an abort other
 * than a shutdown's, whether or not the handler listens.
 */
class RunControl {
  private controller: AbortController | undefined;
  private reject: ((reason: unknown) => void) | undefined;
  private aborted = false;
  private reason: unknown;
  /** The handler's promise has settled. */
  settled = false;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    // A shutdown aborts the signal only: the run is handed back, not ended here.
    if (!(reason instanceof RunAborted && reason.reason === 'Shutdown')) this.reject?.(reason);
  }

  race<T>(done: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.reject = reject;
      done.then(
        (value) => {
          this.settled = true;
          resolve(value);
        },
        (err: unknown) => {
          this.settled = true;
          reject(err);
        },
      );
      if (this.aborted && !(this.reason instanceof RunAborted && this.reason.reason === 'Shutdown')) reject(this.reason);
    });
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
