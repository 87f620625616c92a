import { parseDuration } from '../core/duration.js';
import { errorMessage, UsageError } from '../core/errors.js';
import { isQueueName, QUEUE_NAME_RULE } from '../core/names.js';
import type { RecordsStore } from '../core/records.js';
import type { RunEvent } from '../core/run-events.js';
import {
  assertWritable,
  checkServer,
  connect,
  ensureLayout,
  MemoryWatch,
  refuseSharedPrefix,
  WorkerRuntime,
  type Redis,
  type RedisMemory,
  type WorkerStats,
} from '../queue/index.js';
import { openStore } from '../store/index.js';
import { startRecorder, type RunningRecorder } from './history.js';
import { isolatedRunner } from './isolate.js';
import { consoleLogger, type RuntimeLogger } from './logger.js';
import { resolveProcess, type ConfigInput, type ConnectionOptions } from './resolve.js';
import { installProcessGuard } from './process-guard.js';
import { TQ_VERSION } from './version.js';

/** Options of `startWorker`: what `tq worker` takes as flags, plus hooks for a host program. */
export interface StartWorkerOptions extends ConnectionOptions {
  /** Queues to consume; default: every queue a task of the config uses. */
  queues?: readonly string[];
  /** Runs at once per queue, 1 to 1000; default: the config's `worker.concurrency`, else 1. */
  concurrency?: number;
  /** Worker name (how `tq inspect workers` and `tq control shutdown` know it); default `<host>.<pid>`. */
  name?: string;
  /** How long `close()` lets active runs finish before handing them back (`'30s'` or ms); default: the config's. */
  shutdownTimeout?: number | string;
  /** Diagnostics (connection lost, warmup failed, ...); default: `console`. */
  logger?: RuntimeLogger;
  /** Every run transition this worker causes (started, completed, retrying, failed, ...). */
  onEvent?: (event: RunEvent) => void;
  /** More handlers ignored their abort signal than `worker.maxZombies`; default: logs it. */
  onZombieLimit?: (zombies: number) => void;
  /** `tq control shutdown` asked this worker to stop; default: `close()`. */
  onShutdownRequest?: () => void;
  /** Whether to log Redis server settings that put runs at risk (persistence, eviction); default true. */
  serverWarnings?: boolean;
  /**
   * Own the process (what `tq worker` does; default false, a host program keeps its own rules):
   * a handler's `process.exit()` fails its run instead of ending the process, an uncaught
   * exception hands the runs in progress back (each marked with the reason: a run that crashes
   * two workers fails), flushes history, logs one line and exits 1, and an unhandled rejection
   * is one warning line. See `installProcessGuard`.
   */
  guardProcess?: boolean;
}

/** A snapshot of a worker's counters (the worker runtime's own). */
export type { WorkerStats };

/** What `close()` did with the runs still active when the shutdown timeout passed. */
export interface WorkerShutdownReport {
  /** Ids of runs handed back to their queue for another worker. */
  readonly handedBack: readonly string[];
  /** True when the timeout passed before every active run finished. */
  readonly forced: boolean;
}

/** A running worker. */
export interface WorkerHandle {
  readonly name: string;
  readonly queues: readonly string[];
  /** Runs at once per queue. */
  readonly concurrency: number;
  /** The Redis server's version, as it reported at start. */
  readonly redisVersion: string;
  /** The records store (images, ...) this worker's handlers get as `ctx.db`. */
  readonly records: RecordsStore;
  stats(): WorkerStats;
  /**
   * Warm shutdown: takes no new runs, lets active ones finish for up to `timeout` (default: the
   * `shutdownTimeout` option), hands back the rest, then closes history and the database.
   * Calling it again returns the same promise.
   */
  close(timeout?: number | string): Promise<WorkerShutdownReport>;
}

function checkConcurrency(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 1000)
    throw new UsageError(`concurrency must be an integer from 1 to 1000 (got ${value})`);
  return value;
}

function checkQueues(queues: readonly string[]): string[] {
  const unique = [...new Set(queues)];
  if (unique.length === 0) throw new UsageError('queues needs at least one queue name');
  for (const q of unique) if (!isQueueName(q)) throw new UsageError(`queue "${q}" must be ${QUEUE_NAME_RULE}`);
  return unique;
}

const timeoutMs = (value: number | string, what: string) => (typeof value === 'number' ? value : parseDuration(value, what));

/**
 * Starts a worker in this process, as `tq worker` does: checks Redis (unreachable: fails fast
 * with one clear error), opens the records and history database, records the run history into
 * it, and consumes the queues until `close()`. Tasks with `isolate: true` need the config to
 * come from a file (the child process loads it), so from code they run only under the CLI.
 *
 * ```ts
 * import { startWorker } from 'tq';
 * import config from './tasks.config.js';
 * const worker = await startWorker(config, { queues: ['images'], concurrency: 4 });
 * process.once('SIGTERM', () => void worker.close());
 * ```
 */
export async function startWorker(configInput: ConfigInput, options: StartWorkerOptions = {}): Promise<WorkerHandle> {
  const { config, settings } = resolveProcess(configInput, options);
  const queues = checkQueues(options.queues ?? config.queues);
  const concurrency = checkConcurrency(options.concurrency ?? config.worker.concurrency);
  const defaultTimeoutMs =
    options.shutdownTimeout !== undefined ? timeoutMs(options.shutdownTimeout, 'shutdownTimeout') : config.worker.shutdownTimeoutMs;
  const logger = options.logger ?? consoleLogger;

  // Check Redis first: fail fast with one clear line before anything else is set up. A Redis
  // that may evict runs (unless the config allows it) or refuses writes is refused here too.
  const probe = await connect(settings.redisUrl, { role: 'producer', name: 'tq-probe' });
  let redisVersion = 'unknown';
  let memory: RedisMemory;
  try {
    await ensureLayout(probe, settings.prefix);
    // Another application's prefix: refused before anything is written (no SQLite file left behind).
    await refuseSharedPrefix(probe, settings.prefix, config.app);
    memory = await assertWritable(probe, { allowEviction: config.allowEviction });
    const server = await checkServer(probe);
    redisVersion = server.version;
    if (options.serverWarnings !== false) for (const w of server.warnings) logger.warn(w);
  } finally {
    probe.disconnect();
  }

  const watch = await watchMemory(settings.redisUrl, memory, config.allowEviction, logger);
  let store: ReturnType<typeof openStore>;
  try {
    store = openStore(settings.dbFile, { prefix: settings.prefix });
  } catch (err) {
    await watch.close();
    throw err;
  }
  let history: RunningRecorder | undefined;
  let runtime: WorkerRuntime;
  // Set below; the runtime may ask for a shutdown as soon as it listens.
  let handle: WorkerHandle | undefined;
  try {
    history = await startRecorder(store, settings, config, logger);
    runtime = await WorkerRuntime.start({
      config,
      redisUrl: settings.redisUrl,
      prefix: settings.prefix,
      queues,
      concurrency,
      ...(options.name ? { name: options.name } : {}),
      records: store.records,
      logger,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      onZombieLimit:
        options.onZombieLimit ??
        ((n) => logger.error(`${n} handlers ignored their abort signal (over worker.maxZombies); restart this worker`)),
      onShutdownRequest: options.onShutdownRequest ?? (() => void handle?.close()),
      isolated: isolatedRunner({ config, settings }),
      version: TQ_VERSION,
    });
  } catch (err) {
    await history?.close();
    store.close();
    await watch.close();
    throw err;
  }
  const recorder = history;
  const unguard = options.guardProcess ? guardWorkerProcess(runtime, logger) : undefined;
  let closing: Promise<WorkerShutdownReport> | undefined;
  handle = {
    name: runtime.name,
    queues,
    concurrency,
    redisVersion,
    records: store.records,
    stats: () => runtime.stats(),
    close(timeout) {
      closing ??= (async () => {
        try {
          const report = await runtime.shutdown(timeout !== undefined ? timeoutMs(timeout, 'timeout') : defaultTimeoutMs);
          return { handedBack: report.handedBack, forced: report.forced };
        } finally {
          unguard?.();
          await watch.close();
          await recorder.close();
          store.close();
        }
      })();
      return closing;
    },
  };
  return handle;
}

/**
 * Looks at Redis's memory once a minute on a connection of its own (one pipelined `INFO memory`
 * + `INFO stats`, a few KB): says once when Redis starts or stops refusing writes and whenever it
 * evicted keys, which the worker's own commands cannot tell.
 */
async function watchMemory(
  redisUrl: string,
  initial: RedisMemory,
  allowEviction: boolean,
  logger: RuntimeLogger,
): Promise<{ close(): Promise<void> }> {
  const redis: Redis = await connect(redisUrl, { role: 'worker', name: 'tq-memory-watch' });
  const watch = new MemoryWatch(redis, { allowEviction, warn: (m) => logger.warn(m), info: (m) => logger.info(m) }, initial);
  watch.start();
  return {
    async close() {
      await watch.close();
      redis.disconnect();
    },
  };
}

/** The process guard of a worker that owns its process (see `StartWorkerOptions.guardProcess`). */
function guardWorkerProcess(runtime: WorkerRuntime, logger: RuntimeLogger): () => void {
  return installProcessGuard({
    warn: (line) => logger.warn(line),
    onFatal: async (err) => {
      const reason = `its worker crashed: uncaught exception from handler code (${errorMessage(err)})`;
      const active = runtime.activeRuns().map((r) => `${r.task}[${r.id}]`);
      logger.error(
        `uncaught exception (${errorMessage(err)}); ending this worker (exit 1) after handing back ${active.length} run(s)${active.length ? `: ${active.join(', ')}` : ''}`,
      );
      if (err instanceof Error && err.stack) logger.error(err.stack);
      await runtime.abandon(reason);
      logger.flush?.();
    },
  });
}
