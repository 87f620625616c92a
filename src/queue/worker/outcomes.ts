/**
 * The run events of attempts that ended, made from what BullMQ reports (`completed`, `failed`)
 * and what the runtime noted while the run went on (when its handler started, when a retry is
 * due). Times are on the Redis server's clock.
 */
import type { Job } from 'bullmq';
import type { RunEvent } from '../../core/run-events.js';
import type { ServerClock } from '../clock.js';
import { DelayedError } from '../engine.js';
import { completedEvent, failureEvent, isFinalFailure } from './events.js';

export interface OutcomeDeps {
  worker: string;
  clock: ServerClock;
  emit: (event: RunEvent) => void;
  /** The run's attempt ended (completed, retrying or final). */
  ended: (id: string) => void;
}

/** Ended attempts as run events, and the counts of them. */
export class RunOutcomes {
  processed = 0;
  failed = 0;
  private readonly retryAt = new Map<string, number>();
  /** When each run's handler started (the job objects BullMQ hands back with its outcome). */
  private readonly started = new WeakMap<Job, number>();
  /** Completions whose event is not made yet (see `completed`). */
  private completions: { job: Job; result: unknown }[] = [];

  constructor(private readonly deps: OutcomeDeps) {}

  /** The handler of `job` started at `at` (server clock). */
  startedAt(job: Job, at: number): void {
    this.started.set(job, at);
  }

  /** The backoff put the next attempt of run `id` `delayMs` from now. */
  retryIn(id: string, delayMs: number): void {
    this.retryAt.set(id, this.deps.clock.now() + delayMs);
  }

  /**
   * BullMQ reports a completion before it starts the next run it fetched along with it: the
   * completion's event and log line are made after this turn's runs have started instead
   * (setImmediate), off the path from one run to the next.
   */
  completed(job: Job, result: unknown): void {
    this.processed += 1;
    this.completions.push({ job, result });
    if (this.completions.length === 1) setImmediate(() => this.flush());
  }

  /** Makes the events of the completions deferred so far. */
  flush(): void {
    const done = this.completions;
    this.completions = [];
    for (const { job, result } of done) {
      this.deps.ended(job.id!);
      this.deps.emit(completedEvent(job, result, this.facts(job)));
    }
  }

  /** An attempt failed (a parked run's DelayedError is not a failure). */
  failedAttempt(job: Job | undefined, err: Error): void {
    if (!job || err instanceof DelayedError) return;
    const dueAt = this.retryAt.get(job.id!);
    this.retryAt.delete(job.id!);
    const event = failureEvent(job, err, { ...this.facts(job), dueAt });
    if (!event) return;
    this.deps.ended(job.id!);
    if (isFinalFailure(event)) this.failed += 1;
    this.deps.emit(event);
  }

  /** BullMQ's job times (`finishedOn`) are on this host's clock: `offsetMs` moves them. */
  private facts(job: Job) {
    const { worker, clock } = this.deps;
    return { worker, startedAt: this.started.get(job), now: clock.now(), offsetMs: clock.offset };
  }
}
