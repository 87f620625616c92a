import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { PREFIX_NAME, PREFIX_RULE } from '../core/names.js';
import { maskRedisUrl, parseRedisUrl } from '../core/url.js';
import type { ResolvedConfig, Settings } from './resolved.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DB_FILE = '.tq/tq.db';

export const DEFAULT_PREFIX = 'tq';

/**
 * The SQLite file a prefix uses unless told otherwise: `.tq/<prefix>.db` (`.tq/tq.db` for the
 * default prefix). One file per prefix by default, so run ids that repeat across prefixes (beat's
 * deterministic ids, `--id`) never meet in one `task_runs` table.
 */
export function defaultDbFile(prefix: string): string {
  return prefix === DEFAULT_PREFIX ? DEFAULT_DB_FILE : `.tq/${prefix}.db`;
}

export interface GlobalFlags {
  config?: string;
  redis?: string;
  db?: string;
  prefix?: string;
  debug?: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Which config file to load: flag, TQ_CONFIG, then `./tasks.config.ts`. */
export function configPath(flags: GlobalFlags, env: Env, cwd: string): string {
  return path.resolve(cwd, flags.config ?? env.TQ_CONFIG ?? 'tasks.config.ts');
}

/**
 * Resolves connection settings in the documented order: flag, environment, config file,
 * default. Paths from flags and the environment are relative to the working directory; paths
 * in the config file are relative to the file.
 */
export function resolveSettings(flags: GlobalFlags, env: Env, config: ResolvedConfig | undefined, cwd: string): Settings {
  const fromConfig = (value: string | undefined) => (value !== undefined && config ? path.resolve(config.dir, value) : undefined);
  const redisUrl = flags.redis ?? nonEmpty(env.TQ_REDIS_URL) ?? config?.redis;
  const prefix = flags.prefix ?? nonEmpty(env.TQ_PREFIX) ?? config?.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_NAME.test(prefix)) {
    throw new UsageError(`prefix "${prefix}" must be ${PREFIX_RULE}`);
  }
  const url = redisUrl ?? DEFAULT_REDIS_URL;
  try {
    parseRedisUrl(url);
  } catch (err) {
    throw new UsageError(`bad Redis URL "${maskRedisUrl(url)}": ${(err as Error).message}`);
  }
  const dbFile =
    (flags.db !== undefined ? path.resolve(cwd, flags.db) : undefined) ??
    (nonEmpty(env.TQ_DB) !== undefined ? path.resolve(cwd, env.TQ_DB!) : undefined) ??
    fromConfig(config?.db) ??
    path.resolve(config?.dir ?? cwd, defaultDbFile(prefix));
  return {
    redisUrl: url,
    redisExplicit: redisUrl !== undefined,
    dbFile,
    prefix,
    debug: Boolean(flags.debug) || env.TQ_DEBUG === '1',
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
