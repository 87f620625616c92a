import type { Job } from 'bullmq';
import type { RecordsStore } from '../../core/records.js';
import type { RunControl } from '../../core/run-control.js';
import type { RunEvent } from '../../core/run-events.js';
import type { TaskLogger } from '../../core/task.js';
import type { ResolvedConfig } from '../../config/resolved.js';
import type { IsolatedRun } from './execute.js';

export interface WorkerRuntimeOptions {
  config: ResolvedConfig;
  redisUrl: string;
  prefix: string;
  queues: readonly string[];
  /** Runs at once per queue. */
  concurrency: number;
  name?: string;
  records: RecordsStore;
  logger: TaskLogger;
  /** Every run transition this worker causes (the CLI prints them). */
  onEvent?: (event: RunEvent) => void;
  /** Called once when zombies exceed `config.worker.maxZombies`: the worker wants a restart. */
  onZombieLimit?: (zombies: number) => void;
  /** Called when a control message asks this worker to shut down. */
  onShutdownRequest?: () => void;
  /** tq version, for heartbeats. */
  version?: string;
  /** Runner for `isolate: true` tasks. */
  isolated?: IsolatedRun;
  /** How many times a run may be recovered after its worker died before it fails. */
  maxStalledCount?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often heartbeats are written (default every 5 s). */
  heartbeatIntervalMs?: number;
  /** Past this long blocking the event loop, the process is ended (default `worker.maxBlocked`). */
  maxBlockedMs?: number;
  /** Keep run locks from a helper thread while a handler blocks the event loop (default true). */
  lockKeeper?: boolean;
}

/** A read-only snapshot of what a worker has done so far. */
export interface WorkerStats {
  /** Runs completed. */
  readonly processed: number;
  /** Runs that ended failed, cancelled or expired (retried attempts are not counted). */
  readonly failed: number;
  /** Handlers still running after their run ended (they ignored ctx.signal). */
  readonly zombies: number;
  /** Runs in progress. */
  readonly active: number;
  /** Last time the worker took a run or found its queues empty (epoch ms). */
  readonly lastFetchAt: number;
  readonly startedAt: number;
}

/** A run in progress on this worker. */
export interface ActiveRun {
  job: Job;
  token: string | undefined;
  task: string;
  control: RunControl;
  done: Promise<unknown>;
  startedAt: number;
}
