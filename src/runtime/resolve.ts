/**
 * How a process started from code (a worker, a beat, the client) finds its config and settings,
 * by the CLI's rule: paths written in the config (`media`, `db`) are relative to the config
 * file; paths given as options or environment (`db`, `media`, TQ_DB) are relative to the working
 * directory.
 */
import path from 'node:path';
import { configFromObject, configPath, loadConfig, resolveSettings, type ResolvedConfig, type Settings } from '../config/index.js';
import type { TqConfig } from '../core/task.js';

/** What `startWorker` and `startBeat` take as their config: the object `defineConfig` returns, or one already resolved. */
export type ConfigInput = TqConfig | ResolvedConfig;

/** Where a process connects and records, shaped like `createClient`'s options. */
export interface ConnectionOptions {
  /** Redis URL (else TQ_REDIS_URL, the config's `redis`, then redis://127.0.0.1:6379). */
  redis?: string;
  /** Key prefix (else TQ_PREFIX, the config's `prefix`, then `tq`). */
  prefix?: string;
  /** SQLite file for records and history, relative to the working directory (else TQ_DB, the config's `db`, then `.tq/<prefix>.db`: `.tq/tq.db` for the default prefix). */
  db?: string;
  /**
   * The directory of the config file, for a config given as an object (an object does not know
   * where it was written): its relative paths (`media`, `db`, the default `.tq/tq.db`) resolve
   * against it, as the CLI resolves them against the file. Default: the directory of
   * TQ_CONFIG when that is set, else the working directory. `import.meta.dirname` in the
   * module that imports the config is the usual value. Ignored for a config loaded from a file.
   */
  dir?: string;
  /** Where TQ_* variables are read from; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** A resolved config passes through: the CLI loads and validates the file once. */
function isResolved(config: ConfigInput): config is ResolvedConfig {
  return config.tasks instanceof Map;
}

/**
 * The directory a config object's relative paths resolve against: `options.dir`, else the
 * directory of the config file the CLI would load in this environment (TQ_CONFIG), else the
 * working directory.
 */
export function configDirOf(options: Pick<ConnectionOptions, 'dir' | 'env'>): string {
  if (options.dir !== undefined) return path.resolve(options.dir);
  const env = options.env ?? process.env;
  if (env.TQ_CONFIG) return path.dirname(configPath({}, env, process.cwd()));
  return process.cwd();
}

/** The config object resolved against `configDirOf(options)`, or a resolved config as it is. */
export function resolveConfigInput(config: ConfigInput, options: Pick<ConnectionOptions, 'dir' | 'env'>): ResolvedConfig {
  return isResolved(config) ? config : configFromObject(config, configDirOf(options));
}

/**
 * Loads a config given by its file path (relative to the working directory), as `tq --config`
 * does; its paths resolve against the file's directory. An object resolves as `resolveConfigInput`.
 */
export async function loadConfigInput(
  config: ConfigInput | string,
  options: Pick<ConnectionOptions, 'dir' | 'env'>,
): Promise<ResolvedConfig> {
  if (typeof config === 'string') return loadConfig(path.resolve(config));
  return resolveConfigInput(config, options);
}

/** Connection settings for a resolved config: option, environment, config file, default. */
export function resolveConnection(config: ResolvedConfig, options: ConnectionOptions): Settings {
  const flags = {
    ...(options.redis !== undefined ? { redis: options.redis } : {}),
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    ...(options.db !== undefined ? { db: options.db } : {}),
  };
  // Options are the flags of code: relative to the working directory, as the CLI's flags are.
  return resolveSettings(flags, options.env ?? process.env, config, process.cwd());
}

/**
 * The config and the connection settings of a process, resolved as the CLI resolves them:
 * option, environment, config file, default.
 */
export function resolveProcess(config: ConfigInput, options: ConnectionOptions): { config: ResolvedConfig; settings: Settings } {
  const resolved = resolveConfigInput(config, options);
  return { config: resolved, settings: resolveConnection(resolved, options) };
}
