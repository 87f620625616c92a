import type { ResolvedConfig, Settings } from '../config/index.js';
import { FINAL_STATES } from '../core/states.js';
import type { TaskLogger } from '../core/task.js';
import { connect, RunEventReader } from '../queue/index.js';
import { Recorder, type Store } from '../store/index.js';

function recorderFor(store: Store, reader: RunEventReader, config: ResolvedConfig, logger?: TaskLogger, stream?: string): Recorder {
  return new Recorder(store.db, reader, {
    ...(stream ? { stream } : {}),
    redactKeys: config.history.redact,
    ...(config.history.keepMs !== undefined ? { keepMs: config.history.keepMs } : {}),
    ...(logger ? { logger } : {}),
  });
}

/** The background recorder of a long-running process (worker, dev, demo): its own connection. */
export async function startRecorder(
  store: Store,
  settings: Settings,
  config: ResolvedConfig,
  logger: TaskLogger,
): Promise<{ recorder: Recorder; close(): Promise<void> }> {
  const redis = await connect(settings.redisUrl, { role: 'worker', name: 'tq-recorder' });
  const recorder = recorderFor(store, new RunEventReader(redis, settings.prefix), config, logger, settings.prefix);
  recorder.start();
  return {
    recorder,
    async close() {
      await recorder.close();
      redis.disconnect();
    },
  };
}

/** Brings the file up to date once (short-lived commands), reusing a connection. */
export async function catchUpHistory(
  store: Store,
  redis: ConstructorParameters<typeof RunEventReader>[0],
  settings: Settings,
  config: ResolvedConfig,
  logger?: TaskLogger,
): Promise<void> {
  await recorderFor(store, new RunEventReader(redis, settings.prefix), config, logger, settings.prefix).catchUp();
}

/**
 * After `--wait`: the result came from BullMQ's own events, and the worker's history events may
 * be a moment behind. Catch up until these runs are final in this file (or `timeoutMs` passes),
 * so the history agrees with what was just printed.
 */
export async function catchUpUntilFinal(
  store: Store,
  redis: ConstructorParameters<typeof RunEventReader>[0],
  settings: Settings,
  config: ResolvedConfig,
  ids: readonly string[],
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await catchUpHistory(store, redis, settings, config);
    const pending = ids.filter((id) => {
      const state = store.runs.get(id)?.state;
      return state === undefined || !FINAL_STATES.has(state);
    });
    if (pending.length === 0 || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}
