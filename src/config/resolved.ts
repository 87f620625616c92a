import type { RateLimitSpec } from '../core/rate.js';
import type { StandardSchemaV1 } from '../core/schema.js';
import type { BackoffOptions, ScheduleDefinition, TaskDefinition } from '../core/task.js';

/** A task with its options validated and durations in ms. */
export interface ResolvedTask {
  readonly name: string;
  readonly definition: TaskDefinition;
  readonly queue: string;
  readonly attempts: number;
  readonly backoff: (Omit<BackoffOptions, 'delay' | 'maxDelay'> & { delay: number; maxDelay?: number }) | undefined;
  readonly timeoutMs: number | undefined;
  readonly priority: number | undefined;
  readonly expiresMs: number | undefined;
  readonly keep: number | undefined;
  readonly args: readonly string[];
  readonly description: string | undefined;
  readonly rateLimit: RateLimitSpec | undefined;
  readonly dedupe: { key: (payload: any) => string; ttlMs: number | undefined } | undefined;
  readonly schema: StandardSchemaV1 | undefined;
  readonly isolate: boolean;
  /** The config's `resultLimit`, carried by each task so every executor finds it with the task. */
  readonly resultLimit: number;
}

export interface ResolvedConfig {
  /** Absolute path of the config file, or undefined for a built-in config (demo). */
  readonly file: string | undefined;
  /** Directory relative paths in the config are resolved against. */
  readonly dir: string;
  readonly tasks: ReadonlyMap<string, ResolvedTask>;
  readonly schedules: Readonly<Record<string, ScheduleDefinition>>;
  readonly timezone: string;
  readonly mediaDir: string;
  readonly history: { keepMs: number | undefined; redact: readonly string[]; streamMaxLen: number; reconcileAfterMs: number };
  readonly payloadLimit: number;
  /** Largest result a handler may return, bytes (JSON). */
  readonly resultLimit: number;
  readonly worker: {
    concurrency: number;
    shutdownTimeoutMs: number;
    unknownTaskGraceMs: number;
    maxZombies: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
    maxBlockedMs: number;
    /** A worker or beat whose clock is further than this from Redis's refuses to start (Infinity: never). */
    maxClockOffsetMs: number;
  };
  /** Every queue some task uses, sorted. */
  readonly queues: readonly string[];
  /** Values from the file, used when no flag or environment variable sets them. */
  readonly redis: string | undefined;
  /** `redis.allowEviction`: workers and producers accept an evicting `maxmemory-policy`. */
  readonly allowEviction: boolean;
  readonly db: string | undefined;
  readonly prefix: string | undefined;
  /**
   * The application (`name`, else, for a config loaded from a file, the name in the package.json
   * nearest the file; undefined when neither). Runs carry it; workers run only their own app's.
   */
  readonly app: string | undefined;
}

/** Connection-level settings after flag > environment > config > default. */
export interface Settings {
  readonly redisUrl: string;
  /** Whether a URL was given at all (flag, env or config); `dev` starts its own server only when not. */
  readonly redisExplicit: boolean;
  readonly dbFile: string;
  readonly prefix: string;
  readonly debug: boolean;
}
