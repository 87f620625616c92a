import type { Job } from 'bullmq';
import { Queue } from './engine.js';
import type { Redis } from 'ioredis';
import { RuntimeError } from '../core/errors.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { connect, ensureLayout } from './connection.js';
import { requestCancel } from './control.js';
import { tqKeys } from './keys.js';
import { CANCELLED, failureState, reasonMessage } from '../core/run-outcome.js';
import { RunEventWriter } from './run-stream.js';

export type PurgeState = 'waiting' | 'delayed' | 'failed' | 'completed';

export interface FoundRun {
  queue: string;
  job: Job;
}

export type CancelOutcome =
  | { outcome: 'removed'; queue: string; state: string }
  | { outcome: 'requested'; queue: string; state: string }
  | { outcome: 'finished'; queue: string; state: string };

/**
 * Operator actions on runs and queues (cancel, find, ...), on a fail-fast connection. Used by
 * `tq control`, `tq inspect` and the client API.
 */
export class Admin {
  private readonly queues = new Map<string, Queue>();
  readonly writer: RunEventWriter;

  private constructor(
    readonly redis: Redis,
    private readonly config: ResolvedConfig,
    readonly prefix: string,
  ) {
    this.writer = new RunEventWriter(redis, prefix, config.history.streamMaxLen);
  }

  static async connect(config: ResolvedConfig, settings: { redisUrl: string; prefix: string }): Promise<Admin> {
    const redis = await connect(settings.redisUrl, { role: 'producer', name: 'tq-admin' });
    try {
      await ensureLayout(redis, settings.prefix);
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return new Admin(redis, config, settings.prefix);
  }

  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.redis, prefix: this.prefix, skipMetasUpdate: true });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Every queue known under the prefix: the config's and any ever used (a producer may be newer). */
  async knownQueues(): Promise<string[]> {
    const used = await this.redis.smembers(tqKeys(this.prefix).queues);
    return [...new Set([...this.config.queues, ...used])].sort();
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
    if (!found) throw new RuntimeError('E_NO_RUN', `no run ${id} in any queue under prefix "${this.prefix}"`, { hint: 'check the id with tq inspect tasks' });
    const { job, queue } = found;
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') {
      return { outcome: 'finished', queue, state: state === 'failed' ? failureState(job.failedReason) : state };
    }
    if (state !== 'active') {
      try {
        await job.remove();
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
      } catch {
        // Locked: a worker took it meanwhile. Cancel it as an active run.
      }
    }
    await requestCancel(this.redis, this.prefix, id, reason);
    return { outcome: 'requested', queue, state: 'active' };
  }

  /**
   * Re-enqueues a finished run that did not complete (failed, cancelled by a time limit,
   * expired): it gets one more attempt, numbered after the ones it had.
   */
  async retry(id: string): Promise<{ queue: string; task: string }> {
    const found = await this.findRun(id);
    if (!found) throw new RuntimeError('E_NO_RUN', `no run ${id} in any queue under prefix "${this.prefix}"`, { hint: 'runs older than the Redis retention can only be enqueued again' });
    const state = await found.job.getState();
    if (state !== 'failed') throw new RuntimeError('E_NOT_FAILED', `run ${id} is ${state}; only failed runs can be retried`);
    await this.retryJob(found.job, found.queue);
    await this.writer.flush();
    return { queue: found.queue, task: found.job.name };
  }

  /** Retries every failed run (of one task, when given); returns how many. */
  async retryFailed(task?: string, onProgress?: (n: number) => void): Promise<number> {
    let count = 0;
    for (const queueName of await this.knownQueues()) {
      const queue = this.queue(queueName);
      // Each retry moves a job out of the failed set, so always read from the start.
      let offset = 0;
      for (;;) {
        const jobs = await queue.getFailed(offset, offset + 499);
        if (jobs.length === 0) break;
        let skipped = 0;
        for (const job of jobs) {
          if (task !== undefined && job.name !== task) {
            skipped += 1;
            continue;
          }
          await this.retryJob(job, queueName);
          count += 1;
        }
        onProgress?.(count);
        offset += skipped;
        if (skipped === jobs.length && jobs.length < 500) break;
      }
    }
    await this.writer.flush();
    return count;
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
        await Promise.all(
          jobs.map(async (job) => {
            try {
              await job.remove();
            } catch {
              return; // taken by a worker meanwhile: it is active now, not purged
            }
            removedNow += 1;
            if (state === 'waiting' || state === 'delayed') {
              this.writer.append({ type: 'cancelled', jobId: job.id!, task: job.name, queue: q, at: Date.now(), attempt: job.attemptsMade, error: reasonMessage(CANCELLED, 'purged') });
            }
          }),
        );
        removed += removedNow;
        if (removedNow === 0) break;
      }
      out.push({ queue: q, removed });
    }
    await this.writer.flush();
    return out;
  }

  /** Waits until a run has finished (any final state) or the time is up; returns its state. */
  async waitFinished(queue: string, id: string, timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // State first, then the job: a job read before it failed has no failure reason yet.
      const state = await this.queue(queue).getJobState(id);
      if (state === 'unknown') return undefined;
      if (state === 'completed') return state;
      if (state === 'failed') return failureState((await this.queue(queue).getJob(id))?.failedReason);
      if (Date.now() > deadline) return state;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.writer.flush().catch(() => undefined);
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.redis.disconnect();
  }
}
