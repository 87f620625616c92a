import { withTimeout } from '../core/async.js';
import { isIP } from 'node:net';
import type { RedisOptions } from 'ioredis';
import { Redis } from './redis-client.js';
import { RedisUnavailableError, errorMessage } from '../core/errors.js';
import { maskRedisUrl, scrubSecret } from '../core/url.js';
import { REDIS_LAYOUT_VERSION, tqKeys } from './keys.js';
import { isOutOfMemoryError } from './memory.js';

export type { Redis };

/**
 * - producer: fails fast (short connect timeout, gives up reconnecting) so `tq enqueue` never hangs.
 * - client:   a long-lived producer (the client API in a web server): reconnects forever, but a
 *             command while the connection is down fails at once (no offline queue), so a
 *             request handler hears "Redis is down" instead of waiting for it to come back.
 * - worker:   retries forever with backoff; BullMQ requires `maxRetriesPerRequest: null`.
 */
export type ConnectionRole = 'producer' | 'client' | 'worker';

export interface ConnectOptions {
  role: ConnectionRole;
  /** Connection name shown in CLIENT LIST (helps operators). */
  name?: string;
  connectTimeoutMs?: number;
  /** Called once per connection state change (lost / restored), never per retry. */
  onStateChange?: (state: 'lost' | 'restored', detail: string) => void;
}

function baseOptions(url: string): RedisOptions {
  const u = new URL(url);
  const options: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
  };
  if (u.username) options.username = decodeURIComponent(u.username);
  if (u.password) options.password = decodeURIComponent(u.password);
  const db = u.pathname.replace(/^\//, '');
  if (db) options.db = Number(db);
  if (u.protocol === 'rediss:') {
    // SNI takes host names only; for an IP address the certificate's IP SAN is checked instead.
    options.tls = isIP(options.host ?? '') ? {} : { servername: u.hostname };
  }
  return options;
}

/** ioredis options for a role (also handed to BullMQ, which opens its own connections). */
export function redisOptions(url: string, options: ConnectOptions): RedisOptions {
  const base = baseOptions(url);
  if (options.role === 'producer') {
    return {
      ...base,
      connectionName: options.name,
      connectTimeout: options.connectTimeoutMs ?? 3000,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => (times > 2 ? null : 200 * times),
      lazyConnect: true,
    };
  }
  if (options.role === 'client') {
    return {
      ...base,
      connectionName: options.name,
      connectTimeout: options.connectTimeoutMs ?? 3000,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // At most a second between attempts: the first call after Redis is back should find it.
      retryStrategy: (times) => Math.min(100 * times, 1000),
      lazyConnect: true,
    };
  }
  return {
    ...base,
    connectionName: options.name,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(250 * 2 ** Math.min(times, 5), 5000),
    lazyConnect: true,
  };
}

/**
 * Opens a connection and waits until it is ready. When Redis does not answer within the
 * connect timeout, throws `RedisUnavailableError` (one line, password masked).
 */
export async function connect(url: string, options: ConnectOptions): Promise<Redis> {
  const redis = new Redis(redisOptions(url, options));
  const password = safePassword(url);
  let lastError: unknown;
  redis.on('error', (err) => {
    lastError = err;
  });
  const timeoutMs = (options.connectTimeoutMs ?? (options.role === 'worker' ? 5000 : 3000)) + 500;
  try {
    await withTimeout(redis.connect(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    await withTimeout(redis.ping(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
  } catch (err) {
    redis.disconnect();
    const reason = scrubSecret(errorMessage(lastError ?? err), password);
    throw new RedisUnavailableError(`cannot reach Redis at ${maskRedisUrl(url)}: ${reason}`, {
      hint: 'start redis-server, or point --redis / TQ_REDIS_URL at a running one (tq dev starts one for you)',
      cause: err,
    });
  }
  watchState(redis, options);
  return redis;
}

/**
 * Gives a BullMQ queue (or its events) a listener for the connection errors it re-emits. Without
 * one, BullMQ prints each of them with its stack on stderr (ECONNREFUSED every reconnect attempt
 * while Redis is down). They carry nothing to act on: ioredis reconnects by itself, and a command
 * made meanwhile fails with its own error, which reaches its caller.
 */
export function quietConnectionErrors(emitter: { on(event: 'error', listener: (err: Error) => void): unknown }): void {
  emitter.on('error', () => undefined);
}

/** Whether a connection can take commands now (false while it is reconnecting). */
export function isReady(redis: Redis): boolean {
  return redis.status === 'ready';
}

function watchState(redis: Redis, options: ConnectOptions): void {
  let up = true;
  // 'reconnecting' (not 'close'): a deliberate disconnect() is not a lost connection.
  redis.on('reconnecting', () => {
    if (!up) return;
    up = false;
    options.onStateChange?.('lost', 'connection closed; reconnecting');
  });
  redis.on('ready', () => {
    if (up) return;
    up = true;
    options.onStateChange?.('restored', 'connection ready');
  });
}

function safePassword(url: string): string | undefined {
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records (or checks) the layout version of tq's data under `prefix`, so a future tq can
 * migrate keys; refuses to run against data written by a newer layout.
 *
 * Reads first and writes only when the key is missing: every command (inspect and purge too)
 * comes through here, and Redis at `maxmemory` with `noeviction` refuses any write, even a
 * `SET NX` that would change nothing. A missing key that cannot be written for lack of memory is
 * left to the next process that can write: nothing newer wrote there either.
 */
export async function ensureLayout(redis: Redis, prefix: string): Promise<void> {
  const key = tqKeys(prefix).layout;
  let stored = await redis.get(key);
  if (stored === null) {
    try {
      await redis.set(key, String(REDIS_LAYOUT_VERSION), 'NX');
      stored = await redis.get(key);
    } catch (err) {
      if (!isOutOfMemoryError(err)) throw err;
    }
  }
  const version = Number(stored ?? REDIS_LAYOUT_VERSION);
  if (version > REDIS_LAYOUT_VERSION) {
    throw new RedisUnavailableError(
      `the data under prefix "${prefix}" has layout version ${version}, newer than this tq understands (${REDIS_LAYOUT_VERSION})`,
      { hint: 'upgrade tq, or use another --prefix' },
    );
  }
}

export interface ServerWarnings {
  warnings: string[];
  version: string;
}

/** What an operator should know about the Redis server before trusting it with work. */
export async function checkServer(redis: Redis): Promise<ServerWarnings> {
  const warnings: string[] = [];
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 2)) {
    warnings.push(`Redis ${version} is older than 6.2; tq needs 6.2 or newer`);
  }
  try {
    const policy = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const value = policy[1];
    if (value && value !== 'noeviction') {
      warnings.push(`Redis maxmemory-policy is "${value}": Redis may evict queued runs; set it to noeviction`);
    }
  } catch {
    // Managed Redis services often forbid CONFIG; nothing to warn about then.
  }
  try {
    const [aof, save] = await Promise.all([redis.config('GET', 'appendonly'), redis.config('GET', 'save')]);
    const appendonly = (aof as string[])[1];
    const snapshots = (save as string[])[1];
    if (appendonly === 'no' && !snapshots) {
      warnings.push(
        'Redis persistence is off (appendonly no, no save points): a Redis restart loses every queued run; turn on appendonly (see RELIABILITY.md, "Durability")',
      );
    } else if (appendonly === 'no') {
      warnings.push(
        'Redis only keeps snapshots (appendonly no): a crash loses the runs enqueued since the last snapshot; appendonly yes is safer',
      );
    }
  } catch {
    // CONFIG is often disabled on managed services; they manage persistence themselves.
  }
  return { warnings, version };
}

/**
 * Deletes every key under `prefix` (SCAN + UNLINK). Only for prefixes tq owns outright, such as
 * the demo's own `<prefix>-demo`; never FLUSHDB.
 */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
