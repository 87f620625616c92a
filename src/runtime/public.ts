/**
 * `startWorker` and `startBeat` as `tq` exports them: thin wrappers that import the runtime when
 * first called, so that loading a config file (which imports `tq` for `defineConfig`) does not
 * load BullMQ, SQLite and the beat.
 */
import type { TqConfig } from '../core/task.js';
import type { BeatHandle, StartBeatOptions } from './beat.js';
import type { StartWorkerOptions, WorkerHandle } from './worker.js';

/**
 * Starts a worker in this process, as `tq worker` does, and returns a handle to stop it:
 * checks Redis (unreachable: rejects with one clear error), opens the records and history
 * database (`db`), records the run history into it, runs each task's `warmup`, and consumes
 * `queues` (default: every queue the config uses) until `close()`. Settings resolve as for the
 * CLI: option, environment (`TQ_REDIS_URL`, `TQ_PREFIX`, `TQ_DB`), config, default.
 * Tasks with `isolate: true` need a config loaded from a file (the CLI's), not an object.
 *
 * ```ts
 * import { startWorker } from 'tq';
 * import config from './tasks.config.js';
 * const worker = await startWorker(config, { queues: ['images'], concurrency: 4 });
 * process.once('SIGTERM', () => void worker.close());
 * ```
 */
export async function startWorker(config: TqConfig, options?: StartWorkerOptions): Promise<WorkerHandle> {
  return (await import('./worker.js')).startWorker(config, options);
}

/**
 * Starts the scheduler in this process, as `tq beat` does: enqueues the config's `schedules` on
 * time until `close()` (any number of beats may run: each fire time is enqueued once), and
 * records the run history into `db` (unless `history: false`). Redis unreachable at start:
 * rejects with one clear error; lost later: the beat waits for it and catches up.
 *
 * ```ts
 * import { startBeat } from 'tq';
 * import config from './tasks.config.js';
 * const beat = await startBeat(config, { history: false });
 * process.once('SIGTERM', () => void beat.close());
 * ```
 */
export async function startBeat(config: TqConfig, options?: StartBeatOptions): Promise<BeatHandle> {
  return (await import('./beat.js')).startBeat(config, options);
}
