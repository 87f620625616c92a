import { pollUntil } from '../core/async.js';
import type { ResolvedConfig, Settings } from '../config/index.js';
import type { RunEventSource } from '../core/run-events.js';
import { FINAL_STATES } from '../core/states.js';
import type { TaskLogger } from '../core/task.js';
import { connect, RunEventReader } from '../queue/index.js';
import { openDatabase, Recorder, type SqliteDatabase, type Store } from '../store/index.js';

/** What the recorder needs of the settings: the stream it follows is the prefix's. */
type HistorySettings = Pick<Settings, 'redisUrl' | 'prefix'>;

function recorderFor(db: SqliteDatabase, events: RunEventSource, config: ResolvedConfig, prefix: string, logger?: TaskLogger): Recorder {
  return new Recorder(db, events, {
    stream: prefix,
    redactKeys: config.history.redact,
    reconcileAfterMs: config.history.reconcileAfterMs,
    ...(config.history.keepMs !== undefined ? { keepMs: config.history.keepMs } : {}),
    ...(logger ? { logger } : {}),
  });
}

/** A recorder running in the background on a connection of its own; `close()` stops both. */
export interface RunningRecorder {
  readonly recorder: Recorder;
  close(): Promise<void>;
}

/** The background recorder of a long-running process (worker, beat, monitor): its own connection. */
export async function startRecorder(
  store: Store,
  settings: HistorySettings,
  config: ResolvedConfig,
  logger: TaskLogger,
): Promise<RunningRecorder> {
  const redis = await connect(settings.redisUrl, { role: 'worker', name: 'tq-recorder' });
  // A connection of its own that never waits for a lock: a long-running process must not block
  // its event loop on another process's write lock (heartbeats and run locks would lapse); the
  // recorder tries again shortly instead (see Recorder.run).
  const db = store.file === ':memory:' ? store.db : openDatabase(store.file);
  if (db !== store.db) db.pragma('busy_timeout = 0');
  const recorder = recorderFor(db, new RunEventReader(redis, settings.prefix), config, settings.prefix, logger);
  recorder.start();
  return {
    recorder,
    async close() {
      await recorder.close();
      if (db !== store.db) db.close();
      redis.disconnect();
    },
  };
}

/**
 * Brings the file up to date once (short-lived commands), reading `events` (from
 * `admin.runEvents()` or `producer.runEvents()`: the caller's own connection).
 */
export async function catchUpHistory(
  store: Store,
  events: RunEventSource,
  settings: Pick<Settings, 'prefix'>,
  config: ResolvedConfig,
  logger?: TaskLogger,
): Promise<void> {
  await recorderFor(store.db, events, config, settings.prefix, logger).catchUp();
}

/**
 * After `--wait`: the result came from BullMQ's own events, and the worker's history events may
 * be a moment behind. Catch up until these runs are final in this file (or `timeoutMs` passes),
 * so the history agrees with what was just printed.
 */
export async function catchUpUntilFinal(
  store: Store,
  events: RunEventSource,
  settings: Pick<Settings, 'prefix'>,
  config: ResolvedConfig,
  ids: readonly string[],
  timeoutMs = 3000,
): Promise<void> {
  await pollUntil(
    async () => {
      await catchUpHistory(store, events, settings, config);
      const pending = ids.filter((id) => {
        const state = store.runs.get(id)?.state;
        return state === undefined || !FINAL_STATES.has(state);
      });
      return pending.length === 0 ? true : undefined;
    },
    { intervalMs: 25, timeoutMs },
  );
}
