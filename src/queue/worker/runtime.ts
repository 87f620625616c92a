import os from 'node:os';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { settlesWithin } from '../../core/async.js';
import { errorMessage } from '../../core/errors.js';
import { RunControl } from '../../core/run-control.js';
import type { RunEvent } from '../../core/run-events.js';
import { RunAborted, timeLimitReason, TIME_LIMIT } from '../../core/run-outcome.js';
import { validateWithSchema } from '../../core/schema.js';
import type { ResolvedTask } from '../../config/resolved.js';
import { backoffDelay, TQ_BACKOFF } from '../backoff.js';
import { CancelRegistry } from '../cancel-registry.js';
import { ServerClock } from '../clock.js';
import { connect } from '../connection.js';
import { ControlSubscriber, type ControlMessage } from '../control.js';
import { DelayedError, UnrecoverableError, type Worker } from '../engine.js';
import { unwrap, withRateSlot } from '../envelope.js';
import { AppGate, refuseSharedPrefix } from './app-identity.js';
import { claimWorkerName, type HeartbeatPublisher } from '../heartbeat.js';
import { Producer } from '../producer.js';
import { RateLimiter } from '../rate-limit.js';
import { asOutOfMemory } from '../memory.js';
import { HistoryEventsDropped, RunEventWriter } from '../run-stream.js';
import { consumerErrorReporter, createConsumer } from './consumer.js';
import { answerControl, rereadCancels, type ControlDeps } from './control-requests.js';
import { workerContext } from './context.js';
import { logEvent } from './events.js';
import { RunOutcomes } from './outcomes.js';
import { awaitOutcome, startHandler, ZombieTracker, type IsolatedRun } from './execute.js';
import { passGates } from './gates.js';
import { serverTimeBackend } from './server-time-backend.js';
import { handBack, type ShutdownReport } from './shutdown.js';
import type { ActiveRun, WorkerRuntimeOptions, WorkerStats } from './options.js';
import { RunWatch } from './run-watch.js';
import { UnknownTaskGrace } from './unknown-task.js';
import { warmUp } from './warmup.js';
import { checkWorkerClock, serverClockHeartbeat } from './worker-clock.js';

export type { IsolatedRun, ShutdownReport, WorkerRuntimeOptions, WorkerStats };

/**
 * How long a worker's run events wait for company before they are written (one XADD for all);
 * also how often the recorders reading the stream are woken by this worker at most.
 */
const EVENT_BATCH_MS = 20;

/**
 * A worker process's runtime: one BullMQ `Worker` per queue and the run lifecycle around each
 * handler call (gates, context, execution, run events), the control channel, heartbeats and a
 * bounded shutdown. The concepts live beside it in `queue/worker/`.
 */
export class WorkerRuntime {
  readonly name: string;
  readonly startedAt = Date.now();
  private readonly workers: Worker[] = [];
  private readonly active = new Map<string, ActiveRun>();
  private readonly writer: RunEventWriter;
  private readonly clock: ServerClock;
  private readonly cancels: CancelRegistry;
  private readonly rate: RateLimiter;
  private readonly unknown: UnknownTaskGrace;
  private readonly apps: AppGate;
  private readonly zombies: ZombieTracker;
  private readonly outcomes: RunOutcomes;
  private control: ControlSubscriber | undefined;
  private heartbeat: HeartbeatPublisher | undefined;
  private watch: RunWatch | undefined;
  private producer: Promise<Producer> | undefined;
  private stopping = false;
  private readonly warnings = { lastBackgroundWarnAt: 0 };
  private lastFetchAt = 0;

  private constructor(
    private readonly options: WorkerRuntimeOptions,
    private readonly redis: Redis,
  ) {
    this.name = options.name ?? `${os.hostname()}.${process.pid}`;
    const { config, logger } = options;
    this.writer = new RunEventWriter(
      redis,
      options.prefix,
      config.history.streamMaxLen,
      (err) =>
        logger.warn(
          err instanceof HistoryEventsDropped
            ? `history: ${errorMessage(err)}`
            : `history events not written yet (${errorMessage(asOutOfMemory(err))}); retrying`,
        ),
      EVENT_BATCH_MS,
    );
    this.clock = new ServerClock(redis);
    this.cancels = new CancelRegistry(redis, options.prefix);
    this.rate = new RateLimiter(redis, options.prefix);
    this.apps = new AppGate(config.app, logger);
    this.unknown = new UnknownTaskGrace(config.worker.unknownTaskGraceMs, () => config.tasks.keys(), logger);
    this.zombies = new ZombieTracker(config.worker.maxZombies, logger, options.onZombieLimit);
    const ended = (id: string) => this.watch?.finished(id);
    this.outcomes = new RunOutcomes({ worker: this.name, clock: this.clock, emit: (e) => this.emit(e), ended });
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
      await refuseSharedPrefix(redis, options.prefix, options.config.app);
      await claimWorkerName(redis, options.prefix, runtime.name);
      await runtime.clock.sync();
      checkWorkerClock(runtime.clock, options.config.worker.maxClockOffsetMs, options.logger);
      await runtime.cancels.sync();
      const rt = runtime;
      runtime.control = await ControlSubscriber.open(
        options.redisUrl,
        options.prefix,
        (message) => rt.onControl(message),
        () => void rt.afterReconnect(),
      );
      await warmUp(options.config, options.queues, options.isolated !== undefined, options.logger);
      runtime.watch = RunWatch.forWorker(options, redis, runtime.name);
      runtime.startWorkers();
      await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
      runtime.lastFetchAt = Date.now();
      runtime.startHeartbeat();
    } catch (err) {
      runtime.control?.close();
      await runtime.watch?.close();
      // The start already failed with `err`: closing what did start is best effort.
      await Promise.allSettled(runtime.workers.map((w) => w.close(true)));
      redis.disconnect();
      throw err;
    }
    return runtime;
  }

  get activeCount(): number {
    return this.active.size;
  }

  get queues(): readonly string[] {
    return this.options.queues;
  }

  /** Ids and tasks of the runs in progress (for heartbeats). */
  activeRuns(): { id: string; task: string; startedAt: number }[] {
    return [...this.active.entries()].map(([id, run]) => ({ id, task: run.task, startedAt: run.startedAt }));
  }

  /** What this worker has done so far (a copy: later runs do not change it). */
  stats(): WorkerStats {
    return {
      processed: this.outcomes.processed,
      failed: this.outcomes.failed,
      zombies: this.zombies.count,
      active: this.active.size,
      lastFetchAt: this.lastFetchAt,
      startedAt: this.startedAt,
    };
  }

  private startHeartbeat(): void {
    const { prefix, queues, concurrency, version = 'unknown', logger, heartbeatIntervalMs } = this.options;
    const state = () => ({
      stats: this.stats(),
      identity: {
        name: this.name,
        queues: [...queues],
        concurrency,
        active: this.activeRuns(),
        version,
        app: this.options.config.app,
        ...(this.stopping ? { stopping: true } : {}),
      },
    });
    this.heartbeat = serverClockHeartbeat(this.redis, prefix, this.clock, state, logger, heartbeatIntervalMs);
    this.heartbeat.start();
  }

  private startWorkers(): void {
    // BullMQ reports every failed reconnect attempt; each distinct problem is said once a minute.
    const reportErrors = consumerErrorReporter(this.options.logger, () => this.stopping);
    for (const queue of this.options.queues) {
      // Delayed moves (backoff retries, parked runs) are due at server-now + delay.
      const worker = createConsumer(queue, this.name, this.options, {
        process: (job, token) => this.process(job, token),
        backoff: (attemptsMade, type, job) => this.backoff(attemptsMade, type, job),
        backend: serverTimeBackend(this.clock),
      });
      worker.on('completed', (job, result) => this.outcomes.completed(job, result));
      worker.on('failed', (job, err) => this.outcomes.failedAttempt(job, err));
      worker.on('error', reportErrors);
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
    if (job?.id) this.outcomes.retryIn(job.id, delay);
    return delay;
  }

  private emit(event: RunEvent): void {
    this.writer.append(event);
    this.options.onEvent?.(event);
  }

  private onControl(message: ControlMessage): void {
    answerControl(message, this.controlDeps());
  }

  /** Pub/sub dropped whatever was sent while disconnected: re-read the durable requests. */
  private afterReconnect(): Promise<void> {
    return rereadCancels(this.controlDeps());
  }

  private controlDeps(): ControlDeps {
    const { logger, onShutdownRequest: onShutdown } = this.options;
    return {
      name: this.name,
      redis: this.redis,
      cancels: this.cancels,
      active: this.active,
      logger,
      ...(onShutdown ? { onShutdownRequest: onShutdown } : {}),
    };
  }

  /** Puts a run back as delayed until `dueAt` (server clock) without spending an attempt. */
  private async park(job: Job, token: string, dueAt: number, attempt: number): Promise<never> {
    // BullMQ takes a time on this host's clock and turns it into a delay from its Date.now().
    await job.moveToDelayed(Date.now() + (dueAt - this.clock.now()), token);
    this.emit({ type: 'delayed', jobId: job.id!, task: job.name, queue: job.queueName, at: this.clock.now(), attempt, dueAt });
    throw new DelayedError();
  }

  private async process(job: Job, token: string | undefined): Promise<unknown> {
    this.lastFetchAt = Date.now();
    const task = this.options.config.tasks.get(job.name);
    const env = unwrap(job.data);
    const attempt = job.attemptsMade + 1;
    const enqueuedAt = env.enqueuedAt ?? job.timestamp;
    const foreignUntil = this.apps.foreignUntil(job, enqueuedAt, this.clock.now());
    if (foreignUntil !== undefined && token !== undefined) return this.park(job, token, foreignUntil, attempt);
    if (!task) {
      const run = { task: job.name, queue: job.queueName, enqueuedAt, canPark: token !== undefined };
      const verdict = this.unknown.verdict(run, this.clock.now());
      if (verdict.kind === 'park') return this.park(job, token!, verdict.dueAt, attempt);
      throw new UnrecoverableError(verdict.reason);
    }

    const watched = await this.watch!.admit(job);
    if (watched.kind === 'fail') throw new UnrecoverableError(watched.reason);
    if (watched.note) this.note(job, attempt, `${task.name}[${job.id}]: ${watched.note}`);

    const gate = await passGates(
      {
        id: job.id!,
        task: task.name,
        rateLimit: task.rateLimit,
        expiresAt: env.expiresAt,
        heldSlot: env.rateSlot,
        canPark: token !== undefined,
      },
      { cancels: this.cancels, clock: this.clock, rate: this.rate },
    );
    if (gate.kind === 'fail') throw new UnrecoverableError(gate.reason);
    if (gate.kind === 'park') {
      // Park the run until its reserved slot; this spends no attempt and blocks nothing else.
      await job.updateData(withRateSlot(job.data, gate.slot, job.timestamp));
      return this.park(job, token!, gate.slot, attempt);
    }

    let payload = env.payload;
    if (task.schema) payload = await validateWithSchema(task.schema, payload, (m) => new UnrecoverableError(`invalid payload: ${m}`));
    return this.execute(job, token, task, payload, env.timeLimitMs ?? task.timeoutMs, attempt);
  }

  private async execute(
    job: Job,
    token: string | undefined,
    task: ResolvedTask,
    payload: unknown,
    timeLimitMs: number | undefined,
    attempt: number,
  ): Promise<unknown> {
    const control = new RunControl();
    if (timeLimitMs !== undefined) control.abortAfter(timeLimitMs, () => new RunAborted(TIME_LIMIT, timeLimitReason(timeLimitMs)));
    // History's times are on the server clock; the watch measures blocking on this host's.
    const startedLocal = Date.now();
    const startedAt = this.clock.toServer(startedLocal);
    this.outcomes.startedAt(job, startedAt);
    this.emit({ type: 'active', jobId: job.id!, task: task.name, queue: job.queueName, attempt, worker: this.name, at: startedAt });
    const { ctx, end } = this.context(job, task, attempt, control);
    const label = `${task.name}[${job.id}]`;
    this.watch!.started(job, token, label, timeLimitMs !== undefined ? startedLocal + timeLimitMs : undefined);
    const done = startHandler(task, payload, ctx, control, this.options.isolated);
    this.active.set(job.id!, { job, token, task: task.name, control, done, startedAt });
    try {
      return await awaitOutcome(done, control, {
        task,
        isolated: task.isolate && this.options.isolated !== undefined,
        zombies: this.zombies,
        label: `${task.name}[${job.id}]`,
        logger: this.options.logger,
      });
    } finally {
      control.end();
      end();
      this.active.delete(job.id!);
      const blocked = this.watch!.ended(job, label, startedLocal);
      if (blocked) this.note(job, attempt, blocked);
    }
  }

  /** A warning about one run: in the worker log and in the run's own log lines (history). */
  private note(job: Job, attempt: number, line: string): void {
    this.options.logger.warn(line);
    this.writer.append(logEvent(job, attempt, `tq: ${line}`, this.clock.now()));
  }

  /**
   * The process must end now (an uncaught exception in handler code): each run in progress gets
   * a mark saying why (its next execution's gate reads it) and goes back to its queue, and the
   * history events written so far are flushed. Returns the ids handed back.
   */
  async abandon(reason: string): Promise<string[]> {
    this.stopping = true;
    const { logger } = this.options;
    const runs = [...this.active.values()].map((r) => ({ id: r.job.id!, queue: r.job.queueName }));
    await this.watch?.mark(runs, reason).catch((err: unknown) => logger.warn(`could not record why runs end (${errorMessage(err)})`));
    const handedBack = await handBack(this.active, this.handBackDeps());
    this.outcomes.flush();
    await settlesWithin(this.writer.flush(), 2000);
    return handedBack;
  }

  private handBackDeps() {
    return { worker: this.name, logger: this.options.logger, emit: (e: RunEvent) => this.emit(e), now: () => this.clock.now() };
  }

  private context(job: Job, task: ResolvedTask, attempt: number, control: RunControl) {
    return workerContext(job, task, attempt, control, {
      worker: this.name,
      records: this.options.records,
      media: this.options.config.mediaDir,
      logger: this.options.logger,
      emit: (event) => this.emit(event),
      append: (event) => this.writer.append(event),
      now: () => this.clock.now(),
      producer: () => this.getProducer(),
      warnings: this.warnings,
    });
  }

  private getProducer(): Promise<Producer> {
    const { config, redisUrl, prefix } = this.options;
    // This worker already said how its clock stands.
    this.producer ??= Producer.connect(config, { redisUrl, prefix, clockWarning: false });
    return this.producer;
  }

  /**
   * Warm shutdown: stop fetching, let active runs finish for up to `timeoutMs`, then hand the
   * rest back to their queue at once (not left for stall detection) and abort their signals.
   */
  async shutdown(timeoutMs: number): Promise<ShutdownReport> {
    this.stopping = true;
    const { logger } = this.options;
    const quietly = (what: string) => (err: unknown) => logger.warn(`${what} during shutdown (${errorMessage(err)})`);
    await Promise.all(this.workers.map((w) => w.pause(true).catch(quietly('could not stop fetching'))));
    // Said at once, not at the next beat: `tq inspect workers` shows it stopping while it drains.
    if (this.heartbeat) await settlesWithin(this.heartbeat.beat().catch(quietly('heartbeat not written')), 1000);
    const drained = await settlesWithin(Promise.allSettled([...this.active.values()].map((a) => a.done)), timeoutMs);
    const handedBack = drained ? [] : await handBack(this.active, this.handBackDeps());
    this.control?.close();
    await this.watch?.close();
    await this.heartbeat?.stop(this.name).catch(quietly('heartbeat not removed'));
    await Promise.all(this.workers.map((w) => w.close(!drained).catch(quietly('a queue consumer did not close'))));
    this.outcomes.flush();
    await settlesWithin(this.writer.flush(), 5000);
    // A producer that never connected failed the ctx.enqueue that wanted it: nothing to close.
    if (this.producer) await (await this.producer.catch(() => undefined))?.close();
    this.redis.disconnect();
    return { handedBack, forced: !drained };
  }
}
