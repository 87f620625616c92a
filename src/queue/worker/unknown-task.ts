/**
 * A run of a task this worker does not know. During a rolling deploy a newer worker may know it,
 * so the run is put back (delayed) for a grace period, logged once per task; after that it fails
 * with a reason naming the tasks this worker knows.
 */
import { formatDuration } from '../../core/duration.js';
import type { TaskLogger } from '../../core/task.js';

/** Park the run until `dueAt`, or fail it with `reason`. */
export type UnknownTaskVerdict = { kind: 'park'; dueAt: number } | { kind: 'fail'; reason: string };

export interface UnknownRun {
  task: string;
  queue: string;
  /** When the run was enqueued (epoch ms). */
  enqueuedAt: number;
  /** Whether this worker can put the run back (it holds the run's lock). */
  canPark: boolean;
}

/** Puts unknown runs back in steps of a tenth of the grace (1 s to 1 min), then fails them. */
export class UnknownTaskGrace {
  private readonly logged = new Set<string>();

  constructor(
    private readonly graceMs: number,
    private readonly knownTasks: () => Iterable<string>,
    private readonly logger: TaskLogger,
  ) {}

  /** What to do with this run now; logs the first run of each unknown task it parks. */
  verdict(run: UnknownRun, now: number): UnknownTaskVerdict {
    const age = now - run.enqueuedAt;
    const known = [...this.knownTasks()].sort().join(', ');
    if (age >= this.graceMs || !run.canPark) {
      return {
        kind: 'fail',
        reason: `unknown task "${run.task}": no worker knew it within ${formatDuration(this.graceMs)} (known here: ${known})`,
      };
    }
    if (!this.logged.has(run.task)) {
      this.logged.add(run.task);
      this.logger.warn(
        `unknown task "${run.task}" in queue "${run.queue}" (this worker knows: ${known}); putting its runs back for up to ${formatDuration(this.graceMs)} in case a newer worker knows it`,
      );
    }
    const step = Math.min(Math.max(1000, this.graceMs / 10), 60_000, this.graceMs - age);
    return { kind: 'park', dueAt: now + Math.max(step, 100) };
  }
}
