import { DEFAULT_REDIS_URL } from '../config/index.js';
import { connect, deletePrefix, redisAnswers, startPrivateRedis } from '../queue/index.js';

/** Where `dev` and `demo` found Redis; `stop()` ends the private server when they started one. */
export interface DevRedis {
  readonly url: string;
  /** The private redis-server's port, when one was started. */
  readonly privatePort: number | undefined;
  stop(): Promise<void>;
}

/**
 * Where `dev` and `demo` find Redis: the configured URL when one was given; else the default
 * when it answers; else a private redis-server (data in `dataDir`) that `stop()` ends.
 * `onStarting` hears about the private server before it starts (it takes a moment).
 */
export async function devRedis(
  explicitUrl: string | undefined,
  dataDir: string,
  onStarting?: (defaultUrl: string) => void,
): Promise<DevRedis> {
  const none = { privatePort: undefined, stop: async () => undefined };
  if (explicitUrl) return { url: explicitUrl, ...none };
  if (await redisAnswers(DEFAULT_REDIS_URL, 1000)) return { url: DEFAULT_REDIS_URL, ...none };
  onStarting?.(DEFAULT_REDIS_URL);
  const server = await startPrivateRedis(dataDir);
  return { url: server.url, privatePort: server.port, stop: () => server.stop() };
}

/** Deletes every key under `prefix` (the demo's clean slate: its own prefix only, never another's). */
export async function clearPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = await connect(redisUrl, { role: 'producer', name: 'tq-demo' });
  try {
    await deletePrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
