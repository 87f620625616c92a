/**
 * The forced part of a warm shutdown: runs still active at the deadline are handed back to their
 * queue at once (another worker takes them now, not after stall detection) and their signals
 * aborted, so a handler that listens stops what it was doing.
 */
import type { Job } from 'bullmq';
import { errorMessage } from '../../core/errors.js';
import type { RunControl } from '../../core/run-control.js';
import type { RunEvent } from '../../core/run-events.js';
import { RunAborted } from '../../core/run-outcome.js';
import type { TaskLogger } from '../../core/task.js';

export interface ShutdownReport {
  /** Runs still active at the deadline, handed back to their queue. */
  handedBack: string[];
  forced: boolean;
}

/** Returns the ids handed back; a run that could not be is left for stall recovery (and logged). */
export async function handBack(
  active: ReadonlyMap<string, { job: Job; token: string | undefined; control: RunControl }>,
  deps: { worker: string; logger: TaskLogger; emit: (event: RunEvent) => void; now: () => number },
): Promise<string[]> {
  const handedBack: string[] = [];
  for (const [id, run] of active) {
    run.control.abort(new RunAborted('Shutdown', 'worker shutting down; the run goes back to its queue'));
    try {
      await run.job.moveToWait(run.token);
    } catch (err) {
      deps.logger.warn(`could not hand run ${id} back (${errorMessage(err)}); it will be recovered as stalled`);
      continue;
    }
    handedBack.push(id);
    const { job } = run;
    deps.emit({
      type: 'requeued',
      jobId: id,
      task: job.name,
      queue: job.queueName,
      at: deps.now(),
      attempt: job.attemptsMade + 1,
      worker: deps.worker,
    });
  }
  return handedBack;
}
