import type { ResolvedConfig, Settings } from '../config/index.js';
import type { RunEvent } from '../core/run-events.js';
import { checkServer, connect, ensureLayout, WorkerRuntime, type ShutdownReport } from '../queue/index.js';
import { openStore, type Store } from '../store/index.js';
import { startRecorder } from './history.js';
import type { WorkerLogger } from './worker-log.js';
import { isolatedRunner } from './isolate.js';
import { TQ_VERSION } from './version.js';

export interface ServeOptions {
  config: ResolvedConfig;
  settings: Settings;
  queues: readonly string[];
  concurrency: number;
  name?: string;
  logger: WorkerLogger;
  onEvent?: (event: RunEvent) => void;
  onZombieLimit?: (zombies: number) => void;
  onShutdownRequest?: () => void;
  /** Skip the Redis server warnings (persistence, eviction): the demo's data is throwaway. */
  skipServerWarnings?: boolean;
}

export interface Serving {
  runtime: WorkerRuntime;
  store: Store;
  redisVersion: string;
  /** Warm shutdown within `timeoutMs`, then closes history and the database. */
  stop(timeoutMs: number): Promise<ShutdownReport>;
}

/**
 * Starts what a worker process runs: the records store, the BullMQ workers and the history
 * recorder. Redis unreachable at start fails fast with one line (exit 1).
 */
export async function serve(options: ServeOptions): Promise<Serving> {
  const { config, settings, logger } = options;
  // Check Redis first: fail fast with one clear line before anything else is set up.
  const probe = await connect(settings.redisUrl, { role: 'producer', name: 'tq-probe' });
  let redisVersion = 'unknown';
  try {
    await ensureLayout(probe, settings.prefix);
    const server = await checkServer(probe);
    redisVersion = server.version;
    if (!options.skipServerWarnings) for (const w of server.warnings) logger.warn(w);
  } finally {
    probe.disconnect();
  }
  const store = openStore(settings.dbFile);
  let history: Awaited<ReturnType<typeof startRecorder>> | undefined;
  try {
    history = await startRecorder(store, settings, config, logger);
    const runtime = await WorkerRuntime.start({
      config,
      redisUrl: settings.redisUrl,
      prefix: settings.prefix,
      queues: options.queues,
      concurrency: options.concurrency,
      ...(options.name ? { name: options.name } : {}),
      records: store.records,
      logger,
      onEvent: (event) => {
        logger.event(event);
        options.onEvent?.(event);
      },
      ...(options.onZombieLimit ? { onZombieLimit: options.onZombieLimit } : {}),
      ...(options.onShutdownRequest ? { onShutdownRequest: options.onShutdownRequest } : {}),
      isolated: isolatedRunner({ config, settings }),
      version: TQ_VERSION,
    });
    const started = history;
    return {
      runtime,
      store,
      redisVersion,
      async stop(timeoutMs) {
        const report = await runtime.shutdown(timeoutMs);
        await started.close();
        store.close();
        return report;
      },
    };
  } catch (err) {
    await history?.close();
    store.close();
    throw err;
  }
}
