import type { Job } from 'bullmq';
import type { Queue } from './engine.js';
import { TolerantQueue } from './unparseable-jobs.js';
import type { Redis } from 'ioredis';
import { RuntimeError, errorMessage } from '../core/errors.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { pollUntil } from '../core/async.js';
import { ensureLayout } from './layout.js';
import { warnIfSkewed } from './clock.js';
import { connect, isReady, quietConnectionErrors } from './connection.js';
import type { RunEventSource } from '../core/run-events.js';
import type { ScheduleState } from '../beat/store.js';
import { RedisBeatStore } from './beat-store.js';
import { publishControl, requestCancel } from './control.js';
import { liveWorkers, type WorkerHeartbeat } from './heartbeat.js';
import { tqKeys } from './keys.js';
import { CANCELLED, failureState, reasonMessage } from '../core/run-outcome.js';
import { historyWarnings, RunEventReader, RunEventWriter, type HistoryCloseReport } from './run-stream.js';

export type PurgeState = 'waiting' | 'delayed' | 'failed' | 'completed';

/** What `retryFailed` did: runs retried, and runs found failed that were gone or retried meanwhile. */
export interface RetryFailedReport {
  retried: number;
  skipped: number;
}

/** Failed runs read and retried per round trip batch by `retryFailed`. */
const RETRY_CHUNK = 200;

export interface FoundRun {
  queue: string;
  job: Job;
}

export type CancelOutcome =
  | { outcome: 'removed'; queue: string; state: string }
  | { outcome: 'requested'; queue: string; state: string }
  | { outcome: 'finished'; queue: string; state: string };

/** The connection and prefix behind each Admin, for the queue module's own helpers (never exported from it). */
const internals = new WeakMap<Admin, { redis: Redis; prefix: string }>();

/** The Redis connection and prefix of `admin`: for `src/queue` modules only (the inspector's ping). */
export function adminConnection(admin: Admin): { redis: Redis; prefix: string } {
  return internals.get(admin)!;
}

/**
 * Operator actions on runs, queues, workers and schedules (cancel, find, shutdown, ...), on a
 * fail-fast connection. Used by `tq control`, `tq inspect`, the monitor and the client API.
 * Its connection stays inside: callers get what they need as methods.
 */
export class Admin {
  private readonly queues = new Map<string, Queue>();
  private readonly writer: RunEventWriter;
  private readonly warnings: ReturnType<typeof historyWarnings>;

  private constructor(
    private readonly redis: Redis,
    private readonly config: ResolvedConfig,
    private readonly prefix: string,
    onWarning?: (message: string) => void,
  ) {
    this.warnings = historyWarnings(onWarning);
    this.writer = new RunEventWriter(redis, prefix, config.history.streamMaxLen, this.warnings.onWriteError);
    internals.set(this, { redis, prefix });
  }

  /**
   * `onWarning` hears what goes wrong with history writes (default: a Node process warning on
   * stderr), as for the producer.
   */
  static async connect(
    config: ResolvedConfig,
    settings: { redisUrl: string; prefix: string; onWarning?: (message: string) => void; role?: 'producer' | 'client' },
  ): Promise<Admin> {
    const redis = await connect(settings.redisUrl, { role: settings.role ?? 'producer', name: 'tq-admin' });
    try {
      await ensureLayout(redis, settings.prefix);
      if (settings.onWarning) await warnIfSkewed(redis, settings.onWarning);
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return new Admin(redis, config, settings.prefix, settings.onWarning);
  }

  /** Whether the connection takes commands now (false while a `'client'` one reconnects). */
  get connected(): boolean {
    return isReady(this.redis);
  }

  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new TolerantQueue(name, { connection: this.redis, prefix: this.prefix, skipMetasUpdate: true });
      quietConnectionErrors(queue);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Every queue known under the prefix: the config's and any ever used (a producer may be newer). */
  async knownQueues(): Promise<string[]> {
    const used = await this.redis.smembers(tqKeys(this.prefix).queues);
    return [...new Set([...this.config.queues, ...used])].sort();
  }

  /**
   * Whether a queue exists under the prefix: the config or a producer named it, or Redis holds
   * keys of it (a queue a plain BullMQ producer filled).
   */
  async queueExists(name: string): Promise<boolean> {
    if ((await this.knownQueues()).includes(name)) return true;
    const parts = ['meta', 'events', 'wait', 'active', 'delayed', 'prioritized', 'completed', 'failed'];
    return (await this.redis.exists(...parts.map((p) => `${this.prefix}:${name}:${p}`))) > 0;
  }

  /** Finds a run by id in any known queue. */
  async findRun(id: string): Promise<FoundRun | undefined> {
    const queues = await this.knownQueues();
    const pipeline = this.redis.pipeline();
    for (const q of queues) pipeline.exists(`${this.prefix}:${q}:${id}`);
    const results = (await pipeline.exec()) ?? [];
    for (let i = 0; i < queues.length; i++) {
      if (results[i]?.[1] === 1) {
        const job = await this.queue(queues[i]!).getJob(id);
        if (job) return { queue: queues[i]!, job };
      }
    }
    return undefined;
  }

  /**
   * Cancels a run: a waiting or delayed one is removed; an active one is aborted by its worker,
   * wherever it runs, through the control channel (and a durable request the worker also
   * checks). A run that turns active while being removed cannot be removed (it is locked) and
   * takes the active path.
   */
  async cancel(id: string, reason = 'cancelled by user'): Promise<CancelOutcome> {
    const found = await this.findRun(id);
    if (!found)
      throw new RuntimeError('E_NO_RUN', `no run ${id} in any queue under prefix "${this.prefix}"`, {
        hint: 'check the id with tq inspect tasks',
      });
    const { job, queue } = found;
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') {
      return { outcome: 'finished', queue, state: state === 'failed' ? failureState(job.failedReason) : state };
    }
    if (state !== 'active' && (await removeUnlessLocked(job, id))) {
      this.writer.append({
        type: 'cancelled',
        jobId: id,
        task: job.name,
        queue,
        at: Date.now(),
        attempt: job.attemptsMade,
        error: reasonMessage(CANCELLED, reason),
      });
      await this.writer.flush();
      return { outcome: 'removed', queue, state };
    }
    // Active, or locked: a worker took it meanwhile. Cancel it as an active run.
    await requestCancel(this.redis, this.prefix, id, reason);
    return { outcome: 'requested', queue, state: 'active' };
  }

  /**
   * Re-enqueues a failed run (a time limit is a failure too): it gets one more attempt, numbered
   * after the ones it had. Cancelled and expired runs are final and refused.
   */
  async retry(id: string): Promise<{ queue: string; task: string }> {
    const found = await this.findRun(id);
    if (!found)
      throw new RuntimeError('E_NO_RUN', `no run ${id} in any queue under prefix "${this.prefix}"`, {
        hint: 'runs older than the Redis retention can only be enqueued again',
      });
    const bullState = await found.job.getState();
    const state = bullState === 'failed' ? failureState(found.job.failedReason) : bullState;
    if (state !== 'failed')
      throw new RuntimeError('E_NOT_FAILED', `run ${id} is ${state}; only failed runs can be retried`, {
        ...(state === 'cancelled' || state === 'expired' ? { hint: `a ${state} run is final: enqueue the task again to run it` } : {}),
      });
    await this.retryJob(found.job, found.queue);
    await this.writer.flush();
    return { queue: found.queue, task: found.job.name };
  }

  /**
   * Retries the runs that were failed when it started (of one task, when given; cancelled and
   * expired runs, kept in the same BullMQ set, are left alone): their ids are
   * read first, then exactly those are retried, in chunks. A run that fails again meanwhile is
   * not retried again (reading the failed set until it is empty never ends while a worker keeps
   * failing the task). Runs already retried by someone else, or removed, are counted as skipped.
   */
  async retryFailed(task?: string, onProgress?: (done: number, total: number) => void): Promise<RetryFailedReport> {
    const snapshot: { queue: string; ids: string[] }[] = [];
    for (const queueName of await this.knownQueues()) {
      const ids = await this.queue(queueName).getRanges(['failed'], 0, -1, true);
      if (ids.length > 0) snapshot.push({ queue: queueName, ids });
    }
    const total = snapshot.reduce((n, s) => n + s.ids.length, 0);
    const report: RetryFailedReport = { retried: 0, skipped: 0 };
    let done = 0;
    for (const { queue: queueName, ids } of snapshot) {
      const queue = this.queue(queueName);
      for (let i = 0; i < ids.length; i += RETRY_CHUNK) {
        const chunk = ids.slice(i, i + RETRY_CHUNK);
        const outcomes = await Promise.all(
          chunk.map(async (id): Promise<'retried' | 'skipped' | 'other'> => {
            const job = await queue.getJob(id);
            if (!job) return 'skipped';
            if (task !== undefined && job.name !== task) return 'other';
            // Cancelled and expired runs share BullMQ's failed set; they are final, never retried.
            if (failureState(job.failedReason) !== 'failed') return 'other';
            return (await this.retryIfFailed(job, queueName)) ? 'retried' : 'skipped';
          }),
        );
        for (const o of outcomes) if (o !== 'other') report[o] += 1;
        done += chunk.length;
        onProgress?.(done, total);
      }
    }
    await this.writer.flush();
    return report;
  }

  /** Retries a run read from the failed set; false when it is no longer failed (retried, removed). */
  private async retryIfFailed(job: Job, queue: string): Promise<boolean> {
    try {
      await this.retryJob(job, queue);
      return true;
    } catch (err) {
      // BullMQ says why only in the error's text; the run's state says it for sure.
      const state = await this.queue(queue).getJobState(job.id!);
      if (state !== 'failed') return false;
      throw err;
    }
  }

  private async retryJob(job: Job, queue: string): Promise<void> {
    // attemptsMade is kept: a run that had used all its attempts gets exactly one more, and
    // history numbers it after the earlier ones.
    await job.retry('failed');
    this.writer.append({ type: 'retried', jobId: job.id!, task: job.name, queue, at: Date.now(), attempt: job.attemptsMade });
  }

  /** Pauses (or resumes) queues: every worker stops (starts) taking runs from them. */
  async setPaused(paused: boolean, queueName?: string): Promise<string[]> {
    const queues = queueName ? [queueName] : await this.knownQueues();
    for (const q of queues) await (paused ? this.queue(q).pause() : this.queue(q).resume());
    return queues;
  }

  /**
   * Removes runs in one state from queues; returns how many per queue. Purged waiting/delayed
   * runs will never run, so history records them as cancelled; finished ones stay in history.
   */
  async purge(state: PurgeState, queueName?: string): Promise<{ queue: string; removed: number }[]> {
    const queues = queueName ? [queueName] : await this.knownQueues();
    const types = state === 'waiting' ? (['wait', 'prioritized', 'waiting-children'] as const) : ([state] as const);
    const out: { queue: string; removed: number }[] = [];
    for (const q of queues) {
      const queue = this.queue(q);
      let removed = 0;
      for (;;) {
        const jobs = await queue.getJobs([...types], 0, 499);
        if (jobs.length === 0) break;
        let removedNow = 0;
        // Every removal is let finish (and recorded) before a failure is reported.
        const results = await Promise.allSettled(
          jobs.map(async (job) => {
            // Locked: taken by a worker meanwhile; it is active now, not purged.
            if (!(await removeUnlessLocked(job, job.id!))) return;
            removedNow += 1;
            if (state === 'waiting' || state === 'delayed') {
              this.writer.append({
                type: 'cancelled',
                jobId: job.id!,
                task: job.name,
                queue: q,
                at: Date.now(),
                attempt: job.attemptsMade,
                error: reasonMessage(CANCELLED, 'purged'),
              });
            }
          }),
        );
        removed += removedNow;
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) {
          await this.writer.flush();
          const done = [...out.map((o) => `${o.removed} from ${o.queue}`), `${removed} from ${q}`].join(', ');
          throw new RuntimeError('E_PURGE', `purge stopped after removing ${done}: ${errorMessage(failed.reason)}`, {
            cause: failed.reason,
          });
        }
        if (removedNow === 0) break;
      }
      out.push({ queue: q, removed });
    }
    await this.writer.flush();
    return out;
  }

  /** The live workers under this prefix, from their heartbeats, sorted by name. */
  workers(): Promise<WorkerHeartbeat[]> {
    return liveWorkers(this.redis, this.prefix);
  }

  /**
   * Asks one live worker (by name), or every one, for a warm shutdown through the control
   * channel; returns the names of the live workers the request is for (none: nothing is sent).
   */
  async shutdown(name?: string): Promise<string[]> {
    const live = await this.workers();
    const targets = (name === undefined ? live : live.filter((w) => w.name === name)).map((w) => w.name);
    if (targets.length > 0)
      await publishControl(this.redis, this.prefix, { type: 'shutdown', ...(name !== undefined ? { worker: name } : {}) });
    return targets;
  }

  /** The stored state (last fire, cursor) of each named schedule that has one. */
  scheduleStates(names: readonly string[]): Promise<Map<string, ScheduleState>> {
    return new RedisBeatStore(this.redis, this.prefix).read(names);
  }

  /** The prefix's run-event stream, read on this admin's connection (the recorder's catch-up). */
  runEvents(): RunEventSource {
    return new RunEventReader(this.redis, this.prefix);
  }

  /** Waits until a run has finished (any final state) or the time is up; returns its state. */
  async waitFinished(queue: string, id: string, timeoutMs: number): Promise<string | undefined> {
    let last: string | undefined;
    const finished = await pollUntil(
      async () => {
        // State first, then the job: a job read before it failed has no failure reason yet.
        const state = await this.queue(queue).getJobState(id);
        last = state;
        if (state === 'unknown') return { state: undefined };
        if (state === 'completed') return { state };
        if (state === 'failed') return { state: failureState((await this.queue(queue).getJob(id))?.failedReason) };
        return undefined;
      },
      { intervalMs: 50, timeoutMs },
    );
    return finished ? finished.state : last;
  }

  /**
   * Writes the history events still pending (one last try), then closes the connection. Events
   * that could not be written are reported through `onWarning` and counted in the result.
   */
  async close(): Promise<HistoryCloseReport> {
    const unwritten = await this.writer.close();
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.redis.disconnect();
    return this.warnings.onClose(unwritten);
  }
}

/**
 * Removes a run; false when it could not be removed because a worker holds its lock (it turned
 * active meanwhile). BullMQ 6 says so only by this error's text (`Job.remove`: the removeJob
 * script returned 0); any other failure (Redis gone, no permission) is an error, never "locked".
 */
async function removeUnlessLocked(job: Job, id: string): Promise<boolean> {
  try {
    await job.remove();
    return true;
  } catch (err) {
    if (err instanceof Error && err.message.includes('could not be removed because it is locked')) return false;
    throw new RuntimeError('E_REDIS', `could not remove run ${id}: ${errorMessage(err)}`, { cause: err });
  }
}
