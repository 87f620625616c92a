import type { Job } from 'bullmq';
import { QueueEvents, type Queue } from './engine.js';
import { TolerantQueue } from './unparseable-jobs.js';
import type { Redis } from 'ioredis';
import { RuntimeError, UsageError, errorMessage } from '../core/errors.js';
import { assertJsonPayload } from '../core/json.js';
import type { RunEventSource } from '../core/run-events.js';
import type { EnqueueOptions } from '../core/task.js';
import type { ResolvedConfig, ResolvedTask } from '../config/resolved.js';
import { ensureLayout } from './layout.js';
import { bullConnection, connect, isReady, quietConnectionErrors } from './connection.js';
import { assertEvictionAllowed } from './memory.js';
import { failureState } from '../core/run-outcome.js';
import { ServerClock } from './clock.js';
import { validateWithSchema } from '../core/schema.js';
import { tqKeys } from './keys.js';
import { enqueuedRun, shapeRun, type EnqueuedRun, type EnqueueRequest, type Prepared } from './run-shape.js';
import { historyWarnings, RunEventReader, RunEventWriter, type HistoryCloseReport } from './run-stream.js';
import type { ProducerSettings, RunOutcome } from './producer-types.js';

export type { EnqueuedRun, EnqueueRequest } from './run-shape.js';
export type { ProducerSettings, RunOutcome } from './producer-types.js';

const BULK_CHUNK = 500;
/**
 * Finished runs Redis keeps per queue unless the task says `keep`. tq workers apply it (worker
 * options), so runs of tasks without `keep` carry no retention options of their own: less to
 * encode and store per run. SQLite history keeps every run regardless.
 */
export const DEFAULT_KEEP = { completed: 1000, failed: 10_000 } as const;
/** How long a queue counts as registered after this producer last added it to the registry. */
const REGISTER_EVERY_MS = 60_000;

/** A failed Redis command as one clear runtime error (a UsageError stays what it is). */
function redisFailure(err: unknown): never {
  if (err instanceof UsageError) throw err;
  throw new RuntimeError('E_REDIS', `Redis command failed: ${errorMessage(err)}`, { cause: err });
}

/** The connection behind each Producer, for the queue module's own helpers (never exported from it). */
const connections = new WeakMap<Producer, Redis>();

/** The Redis connection of `producer`: for `src/queue` modules only (beat's schedule store). */
export function producerConnection(producer: Producer): Redis {
  return connections.get(producer)!;
}

/**
 * Adds runs to queues. One connection, shared by every queue it touches; fails fast when Redis
 * does not answer (see `connection.ts`). Every run it adds is also appended to the run-event
 * stream as `enqueued`, so history knows about it before any worker does.
 */
export class Producer {
  private readonly queues = new Map<string, Queue>();
  private readonly events = new Map<string, QueueEvents>();
  /** Cluster connections handed to BullMQ, which does not close them (see bullConnection). */
  private readonly releases: (() => void)[] = [];
  private readonly finished = new Map<string, RunOutcome>();
  private readonly finishedListeners = new Set<(id: string, outcome: RunOutcome) => void>();
  private readonly watching = new Set<string>();
  /**
   * Runs this producer added while their queue was already watched: their end is certain to
   * come through the queue's events, so `wait` needs no look at Redis first (two round trips).
   */
  private readonly followed = new Set<string>();
  private readonly writer: RunEventWriter;
  /** Queue name -> when this producer last added it to the queue registry (SADD per run is waste). */
  private readonly registered = new Map<string, number>();

  private readonly clock: ServerClock;
  private readonly warnings: ReturnType<typeof historyWarnings>;

  private constructor(
    private readonly redis: Redis,
    private readonly config: ResolvedConfig,
    private readonly settings: ProducerSettings,
  ) {
    this.warnings = historyWarnings(settings.onWarning);
    this.writer = new RunEventWriter(
      redis,
      settings.prefix,
      config.history.streamMaxLen,
      this.warnings.onWriteError,
      settings.eventBatchMs ?? 0,
    );
    this.clock = new ServerClock(redis);
    connections.set(this, redis);
  }

  /** Whether the connection takes commands now (false while a `'client'` one reconnects). */
  get connected(): boolean {
    return isReady(this.redis);
  }

  /** Now by the Redis server's clock (epoch ms): the clock run timestamps are written in. */
  now(): number {
    return this.clock.now();
  }

  /** The Redis server's clock minus this host's, ms, as measured at connect. */
  get clockOffsetMs(): number {
    return this.clock.offset;
  }

  /** Writes the history events of every run added so far to the run-event stream. */
  async flush(): Promise<void> {
    await this.writer.flush();
  }

  /** The prefix's run-event stream, read on this producer's connection (the recorder's catch-up). */
  runEvents(): RunEventSource {
    return new RunEventReader(this.redis, this.settings.prefix);
  }

  static async connect(config: ResolvedConfig, settings: ProducerSettings): Promise<Producer> {
    const redis = await connect(settings.redisUrl, { role: settings.role ?? 'producer', name: 'tq-producer' });
    try {
      await ensureLayout(redis, settings.prefix);
      await assertEvictionAllowed(redis, config.allowEviction);
      const producer = new Producer(redis, config, settings);
      await producer.clock.sync();
      const skew = settings.clockWarning === false ? undefined : producer.clock.skewWarning();
      if (skew) (settings.onWarning ?? ((m: string) => process.emitWarning(m, 'TqClockWarning')))(skew);
      return producer;
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }

  task(name: string): ResolvedTask {
    const task = this.config.tasks.get(name);
    if (!task) {
      throw new UsageError(`unknown task "${name}" (known: ${[...this.config.tasks.keys()].sort().join(', ')})`);
    }
    return task;
  }

  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new TolerantQueue(name, { connection: this.redis, prefix: this.settings.prefix, skipMetasUpdate: true });
      quietConnectionErrors(queue);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Validates and shapes one run: payload checks, ids, delays, BullMQ job options. */
  async prepare(request: EnqueueRequest, now = this.clock.now()): Promise<Prepared> {
    const task = this.task(request.task);
    const payload: unknown = request.payload ?? {};
    assertJsonPayload(payload, 'payload', this.config.payloadLimit);
    if (!task.schema) return shapeRun(task, request, payload, now, this.config.app);
    const valid = await validateWithSchema(
      task.schema,
      payload,
      (message) => new UsageError(`invalid payload for task "${task.name}": ${message}`),
    );
    return shapeRun(task, request, valid, now, this.config.app);
  }

  private prepareNow(request: EnqueueRequest, now = this.clock.now()): Prepared {
    const task = this.task(request.task);
    const payload: unknown = request.payload ?? {};
    assertJsonPayload(payload, 'payload', this.config.payloadLimit);
    return shapeRun(task, request, payload, now, this.config.app);
  }

  /** Adds one run. With a custom id that already exists, adds nothing and says so. */
  async enqueue(task: string, payload?: unknown, options: EnqueueOptions = {}): Promise<EnqueuedRun> {
    const resolved = this.task(task);
    // Without a schema nothing here waits: shape the run synchronously (one await fewer per run).
    const p = resolved.schema ? await this.prepare({ task, payload, options }) : this.prepareNow({ task, payload, options });
    const queue = this.queue(p.queueName);
    let existed = options.id !== undefined && (await this.exists(p.queueName, p.id));
    if (!existed) {
      const job = await queue.add(p.task.name, p.data, p.opts).catch(redisFailure);
      if (job.id !== p.id) {
        // Deduplicated: a pending run with the same key exists; report that one.
        return { id: job.id!, task: p.task.name, queue: p.queueName, state: 'waiting', existed: true };
      }
      existed = false;
      this.follow(p.queueName, [p.id]);
      // The run is in its queue. Its history event leaves with this tick's batch (one command
      // for every run enqueued meanwhile) and is not waited for here: a failed write is kept
      // and retried by the writer, never reported to the caller anyway. `writer.flush()` and
      // `close()` wait for it; commands sent later on this connection find it in the stream.
      this.writer.append(p.event);
      if (this.needsRegistering(p.queueName)) await this.guard(() => this.registerQueues([p.queueName]));
    }
    return enqueuedRun(p, existed);
  }

  /**
   * Adds many runs with `addBulk`, in chunks, reporting progress after each chunk. All runs are
   * validated before the first is added, so a bad one adds none.
   */
  async enqueueMany(requests: readonly EnqueueRequest[], onProgress?: (done: number) => void): Promise<EnqueuedRun[]> {
    const now = this.clock.now();
    // Runs of tasks without a schema are shaped synchronously; only schema checks are awaited.
    const shaped = requests.map((r) => (this.task(r.task).schema ? this.prepare(r, now) : this.prepareNow(r, now)));
    const prepared = shaped.some((p) => p instanceof Promise) ? await Promise.all(shaped) : (shaped as Prepared[]);
    const out: EnqueuedRun[] = [];
    // Two chunks in flight: the next chunk is sent while Redis works on the previous one (replies
    // come back in order on the one connection). A chunk's events are written alongside it; all
    // are in before returning.
    const writes: Promise<unknown>[] = [];
    const adding: Promise<void>[] = [];
    for (let i = 0; i < prepared.length; i += BULK_CHUNK) {
      const chunk = prepared.slice(i, i + BULK_CHUNK);
      const byQueue = new Map<string, Prepared[]>();
      for (const p of chunk) {
        const items = byQueue.get(p.queueName);
        if (items) items.push(p);
        else byQueue.set(p.queueName, [p]);
      }
      const added = Promise.all(
        [...byQueue].map(async ([queueName, items]) => {
          await this.guard(() => this.queue(queueName).addBulk(items.map((p) => ({ name: p.task.name, data: p.data, opts: p.opts }))));
          this.follow(
            queueName,
            items.map((p) => p.id),
          );
        }),
      ).then(() => {
        for (const p of chunk) out.push(enqueuedRun(p, false));
        onProgress?.(out.length);
      });
      added.catch(() => undefined); // observed below
      adding.push(added);
      const written = this.guard(() =>
        Promise.all([this.writer.write(chunk.map((p) => p.event)), this.registerQueues([...byQueue.keys()])]),
      );
      written.catch(() => undefined); // observed below, after the remaining chunks
      writes.push(written);
      if (adding.length >= 2) await adding.shift();
    }
    await Promise.all(adding);
    await Promise.all(writes);
    return out;
  }

  private follow(queueName: string, ids: readonly string[]): void {
    if (!this.watching.has(queueName)) return;
    for (const id of ids) this.followed.add(id);
    // Bounded: runs nobody waits for must not pile up.
    for (const id of this.followed) {
      if (this.followed.size <= 10_000) break;
      this.followed.delete(id);
    }
  }

  /**
   * Adds queue names to the registry (`inspect` lists queues from it), at most once a minute per
   * name and producer: it is idempotent, and a command per run would cost as much as the add.
   */
  private needsRegistering(name: string): boolean {
    return Date.now() - (this.registered.get(name) ?? Number.NEGATIVE_INFINITY) >= REGISTER_EVERY_MS;
  }

  private registerQueues(names: readonly string[]): Promise<unknown> {
    const now = Date.now();
    const stale = names.filter((name) => now - (this.registered.get(name) ?? Number.NEGATIVE_INFINITY) >= REGISTER_EVERY_MS);
    if (stale.length === 0) return Promise.resolve();
    for (const name of stale) this.registered.set(name, now);
    return this.redis.sadd(tqKeys(this.settings.prefix).queues, ...stale).catch((err: unknown) => {
      for (const name of stale) this.registered.delete(name);
      throw err;
    });
  }

  async exists(queueName: string, id: string): Promise<boolean> {
    return (await this.redis.exists(`${this.settings.prefix}:${queueName}:${id}`)) === 1;
  }

  async getJob(queueName: string, id: string): Promise<Job | undefined> {
    return (await this.queue(queueName).getJob(id)) ?? undefined;
  }

  /** Waits for a run to finish; `timeoutMs` undefined waits forever. */
  /**
   * Starts following a queue's finished runs before anything is enqueued, so a run that ends
   * (and, with `keep: 0`, leaves Redis) before `wait` is called is still seen.
   */
  async watch(queueName: string): Promise<void> {
    await this.queueEvents(queueName);
  }

  /** Waits for a run to finish; `timeoutMs` undefined waits forever. */
  async wait(run: { id: string; queue: string }, timeoutMs?: number, onProgress?: (value: unknown) => void): Promise<RunOutcome> {
    const events = await this.queueEvents(run.queue);
    const seen = this.finished.get(run.id);
    if (seen) return seen;
    let settle: (o: RunOutcome) => void = () => undefined;
    const outcome = new Promise<RunOutcome>((resolve) => {
      settle = resolve;
    });
    const onFinished = (id: string, o: RunOutcome) => {
      if (id === run.id) settle(o);
    };
    const onProg = ({ jobId, data }: { jobId: string; data: unknown }) => {
      if (jobId === run.id) onProgress?.(data);
    };
    this.finishedListeners.add(onFinished);
    if (onProgress) events.on('progress', onProg);
    let timer: NodeJS.Timeout | undefined;
    try {
      // It may have finished before we listened: then Redis (if it still keeps it) says how.
      const job = this.followed.delete(run.id) ? undefined : await this.getJob(run.queue, run.id);
      if (job) {
        const state = await job.getState();
        // Read again once it is known to have ended: the job read above may predate its end (its
        // result then still null), and BullMQ writes the end and the result in one script.
        const ended = state === 'completed' || state === 'failed' ? ((await this.getJob(run.queue, run.id)) ?? job) : job;
        if (state === 'completed') settle({ state: 'completed', result: ended.returnvalue });
        else if (state === 'failed') settle({ state: failureState(ended.failedReason), error: ended.failedReason });
      } else if (!this.finished.has(run.id) && !this.watching.has(run.queue)) {
        throw new RuntimeError(
          'E_NO_RUN',
          `run ${run.id} is not in queue "${run.queue}" any more (finished runs beyond the task's keep are only in history)`,
        );
      }
      const seenNow = this.finished.get(run.id);
      if (seenNow) settle(seenNow);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          void this.getJob(run.queue, run.id)
            .then((j) => (j ? j.getState() : 'unknown'))
            .then(
              (s) => settle({ state: 'timeout', lastState: s }),
              () => settle({ state: 'timeout', lastState: 'unknown' }),
            );
        }, timeoutMs);
      }
      return await outcome;
    } finally {
      clearTimeout(timer);
      this.finishedListeners.delete(onFinished);
      events.off('progress', onProg);
    }
  }

  private async queueEvents(queueName: string): Promise<QueueEvents> {
    let events = this.events.get(queueName);
    if (!events) {
      // Read BullMQ's event stream from its current end, explicitly: '$' would start wherever
      // the first blocking read happens to land, and a fast run could finish before it.
      const [last] = await this.redis.xrevrange(`${this.settings.prefix}:${queueName}:events`, '+', '-', 'COUNT', 1);
      const { connection, release } = bullConnection(this.settings.redisUrl, { role: 'worker', name: 'tq-wait' });
      this.releases.push(release);
      events = new QueueEvents(queueName, {
        connection,
        prefix: this.settings.prefix,
        lastEventId: last?.[0] ?? '0-0',
      });
      quietConnectionErrors(events);
      this.events.set(queueName, events);
      // Remember every finished run seen while watching (bounded), for waits that come later.
      const record = (id: string, outcome: RunOutcome) => {
        this.finished.set(id, outcome);
        if (this.finished.size > 10_000) this.finished.delete(this.finished.keys().next().value!);
        for (const listener of this.finishedListeners) listener(id, outcome);
      };
      events.on('completed', ({ jobId, returnvalue }) => record(jobId, { state: 'completed', result: returnvalue }));
      events.on('failed', ({ jobId, failedReason }) => record(jobId, { state: failureState(failedReason), error: failedReason }));
      await events.waitUntilReady();
      this.watching.add(queueName);
    }
    return events;
  }

  /** Turns a lost connection mid-command into one clear runtime error. */
  private guard<T>(fn: () => Promise<T>): Promise<T> {
    return fn().catch(redisFailure);
  }

  /**
   * Writes the history events still pending (one last try), then closes every connection.
   * Events that could not be written are reported through `onWarning` and counted in the result.
   */
  async close(): Promise<HistoryCloseReport> {
    const unwritten = await this.writer.close();
    await Promise.all([...this.events.values()].map((e) => e.close().catch(() => undefined)));
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    for (const release of this.releases.splice(0)) release();
    this.redis.disconnect();
    return this.warnings.onClose(unwritten);
  }
}
