/**
 * Runs that outlive or take down their worker: the other side of at-least-once.
 *
 * - A handler that blocks the event loop: the lock keeper (a helper thread) keeps its lock, so
 *   the run is not recovered and executed a second time while the first execution goes on; when
 *   the handler returns, the block is logged at once and written to the run's log lines.
 * - A run whose execution ended its worker (blocked past `worker.maxBlocked` or its time limit,
 *   or an uncaught exception): a mark says why, and the next execution's gate reads it. The mark
 *   is read only for runs started more often than their attempts account for (a previous
 *   execution never reported an outcome), so ordinary runs pay nothing for it.
 */
import type { Job } from 'bullmq';
import { formatDuration } from '../../core/duration.js';
import { errorMessage } from '../../core/errors.js';
import type { TaskLogger } from '../../core/task.js';
import type { Redis } from '../connection.js';
import { clearMark, markRuns, readMark } from '../run-marks.js';
import { LockKeeper } from './lock-keeper.js';
import type { WorkerRuntimeOptions } from './options.js';

/** A run that ended its worker this many times fails instead of being run again. */
export const MAX_WORKER_ENDS = 2;

export type WatchVerdict = { kind: 'run'; note?: string } | { kind: 'fail'; reason: string };

/** What the gate decides from a run's mark (pure). */
export function markVerdict(mark: { count: number; final: boolean; reason: string } | undefined): WatchVerdict {
  if (!mark) return { kind: 'run' };
  if (mark.final) return { kind: 'fail', reason: mark.reason };
  if (mark.count >= MAX_WORKER_ENDS)
    return { kind: 'fail', reason: `its executions ended their worker ${mark.count} times: ${mark.reason}` };
  return { kind: 'run', note: `its previous execution ended its worker (${mark.reason}); running it once more` };
}

/** A previous execution of this run started but never reported an outcome. */
export function restartedAfterLoss(job: Pick<Job, 'attemptsStarted' | 'attemptsMade'>): boolean {
  return (job.attemptsStarted ?? 0) > job.attemptsMade + 1;
}

export interface RunWatchOptions {
  redis: Redis;
  redisUrl: string;
  prefix: string;
  worker: string;
  lockDurationMs: number;
  maxBlockedMs: number;
  logger: TaskLogger;
  /** Start the lock keeper thread (default true). */
  keeper?: boolean;
}

export class RunWatch {
  private readonly keeper: LockKeeper | undefined;
  /** Runs whose mark must be cleared when they end. */
  private readonly marked = new Map<string, string>();

  /** The watch of a worker runtime, from its options and the config's worker defaults. */
  static forWorker(
    options: Pick<WorkerRuntimeOptions, 'redisUrl' | 'prefix' | 'config' | 'logger' | 'lockDurationMs' | 'maxBlockedMs' | 'lockKeeper'>,
    redis: Redis,
    worker: string,
  ): RunWatch {
    return new RunWatch({
      redis,
      redisUrl: options.redisUrl,
      prefix: options.prefix,
      worker,
      lockDurationMs: options.lockDurationMs ?? options.config.worker.lockDurationMs,
      maxBlockedMs: options.maxBlockedMs ?? options.config.worker.maxBlockedMs,
      logger: options.logger,
      ...(options.lockKeeper === false ? { keeper: false } : {}),
    });
  }

  constructor(private readonly options: RunWatchOptions) {
    this.keeper =
      options.keeper === false
        ? undefined
        : LockKeeper.start({
            redisUrl: options.redisUrl,
            prefix: options.prefix,
            lockDurationMs: options.lockDurationMs,
            maxBlockedMs: options.maxBlockedMs,
            worker: options.worker,
            onError: (err) =>
              options.logger.warn(
                `the lock keeper thread failed (${errorMessage(err)}): a handler that blocks the event loop past the lock may now run twice`,
              ),
          });
  }

  /** The gate: only runs restarted after a lost execution read their mark (one HGET). */
  async admit(job: Job): Promise<WatchVerdict> {
    if (!restartedAfterLoss(job)) return { kind: 'run' };
    const mark = await readMark(this.options.redis, this.options.prefix, job.queueName, job.id!);
    if (mark) this.marked.set(job.id!, job.queueName);
    const verdict = markVerdict(mark);
    if (verdict.kind === 'fail' || verdict.note) return verdict;
    // Said in the log and in the run's history, so a second execution never passes unseen.
    return {
      kind: 'run',
      note: `started again (execution ${job.attemptsStarted} of attempt ${job.attemptsMade + 1}): an earlier execution ended without an outcome (its worker stopped or was killed)`,
    };
  }

  /** A handler is about to be called: its lock is kept even if it blocks at once. */
  started(job: Job, token: string | undefined, label: string, deadline: number | undefined): void {
    if (!token) return;
    this.keeper?.track({ id: job.id!, queue: job.queueName, token, label, ...(deadline !== undefined ? { deadline } : {}) });
  }

  /**
   * The handler settled: how long it blocked the event loop, as a line for the worker log and
   * the run's own log (undefined when it did not).
   */
  ended(job: Job, label: string, startedAt: number): string | undefined {
    if (!this.keeper) return undefined;
    this.keeper.untrack(job.id!);
    const blocked = this.keeper.blockedSince(startedAt);
    if (blocked === 0) return undefined;
    return (
      `${label} blocked the event loop for ${formatDuration(blocked)} (worker.lockDuration ${formatDuration(this.options.lockDurationMs)}): ` +
      'its lock was kept, so it ran once, but heartbeats, time limits and other runs waited; make the handler async, or set isolate: true'
    );
  }

  /** A run ended: a mark it had is no longer needed. */
  finished(id: string): void {
    const queue = this.marked.get(id);
    if (queue === undefined) return;
    this.marked.delete(id);
    clearMark(this.options.redis, this.options.prefix, queue, id).catch((err: unknown) =>
      this.options.logger.warn(`could not clear the end mark of run ${id} (${errorMessage(err)})`),
    );
  }

  /** The process is about to end because of these runs (or with them): say why on each. */
  mark(runs: readonly { id: string; queue: string }[], reason: string): Promise<void> {
    return markRuns(this.options.redis, this.options.prefix, runs, reason);
  }

  close(): Promise<void> {
    return this.keeper?.close() ?? Promise.resolve();
  }
}
