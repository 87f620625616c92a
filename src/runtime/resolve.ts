import { configFromObject, resolveSettings, type ResolvedConfig, type Settings } from '../config/index.js';
import type { TqConfig } from '../core/task.js';

/** What `startWorker` and `startBeat` take as their config: the object `defineConfig` returns, or one already resolved. */
export type ConfigInput = TqConfig | ResolvedConfig;

/** Where a process connects and records, shaped like `createClient`'s options. */
export interface ConnectionOptions {
  /** Redis URL (else TQ_REDIS_URL, the config's `redis`, then redis://127.0.0.1:6379). */
  redis?: string;
  /** Key prefix (else TQ_PREFIX, the config's `prefix`, then `tq`). */
  prefix?: string;
  /** SQLite file for records and history (else TQ_DB, the config's `db`, then `.tq/tq.db`). */
  db?: string;
  /** Directory the config's relative paths (media, db) are resolved against; default cwd. */
  dir?: string;
  /** Where TQ_* variables are read from; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** A resolved config passes through: the CLI loads and validates the file once. */
function isResolved(config: ConfigInput): config is ResolvedConfig {
  return config.tasks instanceof Map;
}

/**
 * The config and the connection settings of a process, resolved as the CLI resolves them:
 * option, environment, config file, default.
 */
export function resolveProcess(config: ConfigInput, options: ConnectionOptions): { config: ResolvedConfig; settings: Settings } {
  const dir = options.dir ?? process.cwd();
  const resolved = isResolved(config) ? config : configFromObject(config, dir);
  const flags = {
    ...(options.redis !== undefined ? { redis: options.redis } : {}),
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    ...(options.db !== undefined ? { db: options.db } : {}),
  };
  return { config: resolved, settings: resolveSettings(flags, options.env ?? process.env, resolved, dir) };
}
