import type { ResolvedConfig, Settings } from '../config/index.js';
import type { TaskLogger } from '../core/task.js';
import { connect, RunEventReader } from '../queue/index.js';
import { Recorder, type Store } from '../store/index.js';

function recorderFor(store: Store, reader: RunEventReader, config: ResolvedConfig, logger?: TaskLogger): Recorder {
  return new Recorder(store.db, reader, {
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
  const recorder = recorderFor(store, new RunEventReader(redis, settings.prefix), config, logger);
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
  await recorderFor(store, new RunEventReader(redis, settings.prefix), config, logger).catchUp();
}
