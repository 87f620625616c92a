import { Beat, resolveSchedules } from '../beat/index.js';
import { clockRefusal, clockWarning } from '../core/clock-offset.js';
import { connectBeatBackend } from '../queue/index.js';
import { openStore, type Store } from '../store/index.js';
import { startRecorder, type RunningRecorder } from './history.js';
import { runKnownToHistory } from './known-run.js';
import { consoleLogger, type RuntimeLogger } from './logger.js';
import { resolveProcess, type ConfigInput, type ConnectionOptions } from './resolve.js';

/** Options of `startBeat`. */
export interface StartBeatOptions extends ConnectionOptions {
  /** Diagnostics (Redis lost and back, schedules removed, ...); default: `console`. */
  logger?: RuntimeLogger;
  /**
   * Whether this beat also opens the database and records the run history into it, as every
   * long-running tq process does; default true. `tq dev` turns it off: its worker records.
   */
  history?: boolean;
}

/** A snapshot of a beat's counters. */
export interface BeatStats {
  /** Runs this beat enqueued. */
  readonly dispatched: number;
}

/** A running beat. */
export interface BeatHandle {
  /** Names of the schedules it keeps, sorted. */
  readonly schedules: readonly string[];
  stats(): BeatStats;
  /**
   * Settles when the loop ends: after `close()`, or rejected on a bug in it (a lost Redis is not
   * one: the beat waits for it and catches up).
   */
  readonly done: Promise<void>;
  /** Stops after the enqueue in progress, then closes history and the database. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the scheduler in this process, as `tq beat` does: enqueues each schedule's runs on time
 * (any number of beats can run: each fire time is enqueued once). Redis unreachable at start
 * fails fast with one clear error.
 *
 * ```ts
 * import { startBeat } from 'tq';
 * import config from './tasks.config.js';
 * const beat = await startBeat(config);
 * process.once('SIGTERM', () => void beat.close());
 * ```
 */
export async function startBeat(configInput: ConfigInput, options: StartBeatOptions = {}): Promise<BeatHandle> {
  const { config, settings } = resolveProcess(configInput, options);
  const logger = options.logger ?? consoleLogger;
  const schedules = resolveSchedules(config);
  const producerSettings = { redisUrl: settings.redisUrl, prefix: settings.prefix };
  const backend = await connectBeatBackend(config, producerSettings);
  let store: Store | undefined;
  let recorder: RunningRecorder | undefined;
  try {
    // Fire times are this host's; the runs they enqueue are judged on Redis's clock.
    const refusal = clockRefusal(backend.clockOffsetMs, config.worker.maxClockOffsetMs, 'beat');
    if (refusal) throw refusal;
    const skew = clockWarning(backend.clockOffsetMs);
    if (skew) logger.warn(skew);
    if (options.history !== false) {
      store = openStore(settings.dbFile, { prefix: settings.prefix });
      recorder = await startRecorder(store, settings, config, logger);
    }
  } catch (err) {
    await backend.close();
    store?.close();
    throw err;
  }
  const history = store;
  const beat = new Beat({
    schedules,
    backend,
    connect: () => connectBeatBackend(config, producerSettings),
    logger,
    ...(history ? { recorded: (id: string) => runKnownToHistory(history, id)?.state } : {}),
  });
  const done = beat.start();
  // Whoever holds the handle may never look at `done`: its rejection is theirs to see, not an
  // unhandled one that ends the host process.
  done.catch(() => undefined);
  let closing: Promise<void> | undefined;
  return {
    schedules: schedules.map((s) => s.name).sort(),
    stats: () => ({ dispatched: beat.dispatched }),
    done,
    close: () =>
      (closing ??= (async () => {
        try {
          await beat.stop();
        } finally {
          await recorder?.close();
          store?.close();
        }
      })()),
  };
}
