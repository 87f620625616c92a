/**
 * Calling a run's handler and judging how it ended: the abort race (a time limit or a cancel
 * ends the run at once, whether or not the handler listens to its signal), the short grace an
 * aborted handler gets to settle, the hand-off of one that does not (a zombie), and the mapping
 * of a failure onto BullMQ's retry decision through the shared outcome rules.
 */
import { settlesWithin } from '../../core/async.js';
import { assertJsonResult } from '../../core/json.js';
import { callHandler, type RunControl } from '../../core/run-control.js';
import { judgeFailure, RunAborted } from '../../core/run-outcome.js';
import type { TaskContext, TaskLogger } from '../../core/task.js';
import type { ResolvedTask } from '../../config/resolved.js';
import { UnrecoverableError } from '../engine.js';

/** Runs a handler somewhere else (a child process) when the task says `isolate: true`. */
export type IsolatedRun = (request: {
  task: string;
  payload: unknown;
  ctx: Pick<TaskContext, 'id' | 'name' | 'queue' | 'attempt' | 'progress' | 'log'>;
  signal: AbortSignal;
}) => Promise<unknown>;

/** How long an aborted handler may take to settle before it counts as a zombie. */
export const ABORT_GRACE_MS = 250;

/**
 * Handlers still running after their run ended (they ignored ctx.signal). Past `max`, the
 * worker is told once that it wants a restart.
 */
export class ZombieTracker {
  private current = 0;
  private limitReported = false;

  constructor(
    private readonly max: number,
    private readonly logger: TaskLogger,
    private readonly onLimit: ((zombies: number) => void) | undefined,
  ) {}

  get count(): number {
    return this.current;
  }

  /** Counts `done` as a zombie until it settles. */
  track(label: string, done: Promise<unknown>): void {
    this.current += 1;
    this.logger.warn(
      `${label} ignored its abort signal and keeps running as a zombie (${this.current} now; this worker restarts itself past ${this.max})`,
    );
    const release = () => {
      this.current -= 1;
    };
    done.then(release, release);
    if (this.current > this.max && !this.limitReported) {
      this.limitReported = true;
      this.onLimit?.(this.current);
    }
  }
}

/** Calls the handler (or its isolated runner) now; the promise of its outcome. */
export function startHandler(
  task: ResolvedTask,
  payload: unknown,
  ctx: TaskContext,
  control: RunControl,
  isolated: IsolatedRun | undefined,
): Promise<unknown> {
  return callHandler(() =>
    task.isolate && isolated ? isolated({ task: task.name, payload, ctx, signal: control.signal }) : task.definition.run(payload, ctx),
  );
}

export interface OutcomeOptions {
  task: ResolvedTask;
  /** The handler runs in a child process (killed on abort: it cannot linger as a zombie). */
  isolated: boolean;
  zombies: ZombieTracker;
  /** `task[id]`, for log lines. */
  label: string;
  logger: TaskLogger;
}

/**
 * The run's result (JSON, `undefined` as null), or the error BullMQ should see: an
 * `UnrecoverableError` (message and stack kept) when the failure is final, else the error itself.
 */
export async function awaitOutcome(done: Promise<unknown>, control: RunControl, options: OutcomeOptions): Promise<unknown> {
  try {
    const result = await control.race(done);
    const value = result === undefined ? null : result;
    assertJsonResult(value, options.task.resultLimit);
    return value;
  } catch (err) {
    if (err instanceof RunAborted) {
      // A handler that honours its signal settles within moments; only one that does not is a
      // zombie. An isolated handler's process is killed outright: it cannot linger.
      if (!control.settled) await settlesWithin(done, ABORT_GRACE_MS);
      if (!control.settled && !options.isolated) options.zombies.track(options.label, done);
      throw new UnrecoverableError(err.message);
    }
    const { task, logger } = options;
    const verdict = judgeFailure(err, { name: task.name, retryOn: task.definition.retryOn }, (line) => logger.warn(line));
    if (!verdict.final) throw verdict.error;
    const unrecoverable = new UnrecoverableError(verdict.error.message);
    if (verdict.error.stack) unrecoverable.stack = verdict.error.stack;
    throw unrecoverable;
  }
}
