/**
 * Two applications on one Redis and one prefix would take each other's runs (one app's `resize`
 * run failed by another app's worker: "original image is missing"). Every run tq enqueues names
 * its application (`APP_OPTION`), and a worker keeps to its own:
 * - at start it refuses (exit 2) when live workers of another application consume the prefix;
 * - a run of another application that reaches it anyway (that app's workers were all stopped, or
 *   both started at once) is put back, delayed, never failed: it stays for its own workers.
 * Runs that name no application (plain BullMQ producers) and workers of an app with no name run
 * as before.
 */
import { UsageError } from '../../core/errors.js';
import type { TaskLogger } from '../../core/task.js';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { appOf } from '../envelope.js';
import { liveWorkers, type WorkerHeartbeat } from '../heartbeat.js';

/** Throws (exit 2) when a live worker of another named application consumes this prefix. */
export async function refuseSharedPrefix(redis: Redis, prefix: string, app: string | undefined): Promise<void> {
  if (app === undefined) return;
  const other = foreignWorker(await liveWorkers(redis, prefix), app);
  if (!other) return;
  throw new UsageError(
    `prefix "${prefix}" is in use by app "${other.app}" (worker ${other.name} on host ${other.host}); this is app "${app}"`,
    {
      hint: `give each app its own prefix: prefix: '${safePrefix(app)}' in tasks.config.ts (or TQ_PREFIX / --prefix); if both are one app, set the same name: in both configs`,
    },
  );
}

/** The first live worker of another named application, if any (one stopping is on its way out). */
export function foreignWorker(live: readonly WorkerHeartbeat[], app: string): WorkerHeartbeat | undefined {
  return live.find((w) => w.app !== undefined && w.app !== app && !w.stopping);
}

/** A prefix suggestion from an app name (`@acme/shop` -> `acme-shop`). */
function safePrefix(app: string): string {
  return (
    app
      .replace(/^@/, '')
      .replace(/[^A-Za-z0-9_.-]+/g, '-')
      .slice(0, 64) || 'app'
  );
}

/** Which runs are another application's, and when to offer each again. */
export class AppGate {
  private readonly logged = new Set<string>();

  constructor(
    private readonly app: string | undefined,
    private readonly logger: TaskLogger,
  ) {}

  /**
   * Undefined when this worker may run `run`; else when (epoch ms) to put it back for: a second
   * at first, longer as the run waits (a tenth of its age, at most 30 s), so a run whose own
   * workers are all away does not keep this worker busy. Logs the first run of each app.
   */
  foreignUntil(job: Pick<Job, 'id' | 'name' | 'queueName' | 'opts'>, enqueuedAt: number, now: number): number | undefined {
    const app = appOf(job.opts);
    if (this.app === undefined || app === undefined || app === this.app) return undefined;
    if (!this.logged.has(app)) {
      this.logged.add(app);
      this.logger.warn(
        `run ${job.id} (${job.name}, queue "${job.queueName}") belongs to app "${app}", not "${this.app}": left for its own workers (put back, not run, not failed); give each app its own prefix`,
      );
    }
    const step = Math.min(Math.max(1000, (now - enqueuedAt) / 10), 30_000);
    return now + step;
  }
}
