import { withTimeout } from '../core/async.js';
import { isIP } from 'node:net';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'bullmq';
import { Cluster, Redis } from './redis-client.js';
import { RedisUnavailableError, RuntimeError, UsageError, errorMessage } from '../core/errors.js';
import { maskRedisUrl, parseRedisUrl, scrubSecret, urlSecrets, type RedisNode, type RedisTarget } from '../core/url.js';

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

/** The URL's topology, or a usage error (exit 2) naming what is wrong, password masked. */
export function redisTarget(url: string): RedisTarget {
  try {
    return parseRedisUrl(url);
  } catch (err) {
    throw new UsageError(`bad Redis URL "${maskRedisUrl(url)}": ${errorMessage(err)}`);
  }
}

/** Whether a connection is to a Redis Cluster (an ioredis `Cluster`). */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown as { isCluster?: boolean }).isCluster === true;
}

function tlsFor(host: string): RedisOptions['tls'] {
  // SNI takes host names only; for an IP address the certificate's IP SAN is checked instead.
  return isIP(host) ? {} : { servername: host };
}

/** What every connection to this URL's data nodes carries: credentials, TLS, database. */
function nodeOptions(target: RedisTarget): RedisOptions {
  const options: RedisOptions = {};
  if (target.username) options.username = target.username;
  if (target.password) options.password = target.password;
  if (target.kind === 'single') {
    options.host = target.host;
    options.port = target.port;
    if (target.db !== undefined) options.db = target.db;
    if (target.tls) options.tls = tlsFor(target.host);
  } else if (target.kind === 'sentinel') {
    // ioredis asks the sentinels where the primary is, and asks again after a failover.
    options.sentinels = target.sentinels.map((n) => ({ host: n.host, port: n.port }));
    options.name = target.name;
    if (target.sentinelPassword) options.sentinelPassword = target.sentinelPassword;
    if (target.db !== undefined) options.db = target.db;
    if (target.tls) {
      options.tls = {};
      options.sentinelTLS = {};
      options.enableTLSForSentinelMode = true;
    }
  } else if (target.tls) {
    options.tls = {};
  }
  return options;
}

/** How a role retries and queues commands (see `ConnectionRole`). */
function roleOptions(options: ConnectOptions): RedisOptions {
  if (options.role === 'producer') {
    return {
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
    connectionName: options.name,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(250 * 2 ** Math.min(times, 5), 5000),
    lazyConnect: true,
  };
}

/**
 * ioredis options for a role on a single server or a Sentinel-managed primary (also handed to
 * BullMQ, which opens its own connections from them). A cluster has no such options: use
 * `createRedis` or `bullConnection`.
 */
export function redisOptions(url: string, options: ConnectOptions): RedisOptions {
  const target = redisTarget(url);
  if (target.kind === 'cluster') throw new Error('redisOptions() has no single-server form of a cluster URL');
  return { ...nodeOptions(target), ...roleOptions(options) };
}

/** A role's options for a cluster: per-node ones under `redisOptions`, retries for the cluster. */
function clusterOptions(target: RedisTarget & { kind: 'cluster' }, options: ConnectOptions): ClusterOptions {
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...perNode } = roleOptions(options);
  return {
    redisOptions: { ...nodeOptions(target), ...perNode },
    clusterRetryStrategy: retryStrategy ? (times: number) => retryStrategy(times) : undefined,
    enableOfflineQueue: enableOfflineQueue ?? true,
    lazyConnect: lazyConnect ?? true,
    enableReadyCheck: true,
  };
}

function clusterNodes(nodes: RedisNode[]): { host: string; port: number }[] {
  return nodes.map((n) => ({ host: n.host, port: n.port }));
}

/**
 * A new, not yet connected ioredis client for the URL: a `Redis` for one server or a Sentinel
 * primary, a `Cluster` for a cluster. A `Cluster` takes the same commands; it is typed as `Redis`
 * so the code that only sends commands does not care which it talks to (what differs, SCAN and
 * server commands, goes through `scanKeys` and `serverNodes`).
 */
export function createRedis(url: string, options: ConnectOptions): Redis {
  const target = redisTarget(url);
  if (target.kind === 'cluster') return new Cluster(clusterNodes(target.nodes), clusterOptions(target, options)) as unknown as Redis;
  return new Redis({ ...nodeOptions(target), ...roleOptions(options) });
}

/**
 * A BullMQ `connection` for the URL. For a single server or Sentinel: options, and BullMQ owns
 * the connections it opens from them. For a cluster BullMQ needs a `Cluster` instance, which it
 * does not close: call `release()` once the BullMQ object is closed.
 */
export function bullConnection(url: string, options: ConnectOptions): { connection: ConnectionOptions; release(): void } {
  const target = redisTarget(url);
  if (target.kind !== 'cluster') return { connection: redisOptions(url, options) as ConnectionOptions, release: () => undefined };
  const cluster = new Cluster(clusterNodes(target.nodes), clusterOptions(target, options));
  // BullMQ listens to its connections' errors and re-emits them on its own objects, whose
  // listeners report them (see consumerErrorReporter); this keeps the instance's own quiet.
  cluster.on('error', () => undefined);
  return { connection: cluster as unknown as ConnectionOptions, release: () => cluster.disconnect() };
}

/** Plain data (no functions) a worker thread can rebuild a connection from (see lock-keeper-thread). */
export interface ThreadConnection {
  cluster?: { host: string; port: number }[];
  redis: RedisOptions;
}

export function threadConnection(url: string, name: string): ThreadConnection {
  const target = redisTarget(url);
  const redis = { ...nodeOptions(target), connectionName: name };
  return target.kind === 'cluster' ? { cluster: clusterNodes(target.nodes), redis } : { redis };
}

/**
 * Opens a connection and waits until it is ready. When Redis does not answer within the
 * connect timeout, throws `RedisUnavailableError` (one line, password masked).
 */
export async function connect(url: string, options: ConnectOptions): Promise<Redis> {
  const redis = createRedis(url, options);
  const secrets = urlSecrets(url);
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
    // A cluster client that found no usable node says only "Failed to refresh slots cache": the
    // last node's own error says why.
    const cause = lastError ?? err;
    const nodeError = (cause as { lastNodeError?: unknown }).lastNodeError ?? cause;
    const reason = secrets.reduce((text, secret) => scrubSecret(text, secret), errorMessage(nodeError));
    if (/cluster support disabled/i.test(reason)) {
      throw new RuntimeError('E_NOT_CLUSTER', `Redis at ${maskRedisUrl(url)} is not a cluster (${reason})`, {
        hint: 'use a single-server URL: redis://host:port (or redis+sentinel://... for Sentinel)',
        cause: err,
      });
    }
    throw new RedisUnavailableError(`cannot reach Redis at ${maskRedisUrl(url)}: ${reason}`, {
      hint: 'start redis-server, or point --redis / TQ_REDIS_URL at a running one (tq dev starts one for you)',
      cause: err,
    });
  }
  watchState(redis, options);
  return redis;
}

/**
 * The servers that hold data: the connection itself, or each master of a cluster (SCAN, INFO
 * and CONFIG answer for one node only).
 */
export function serverNodes(redis: Redis): Redis[] {
  return isCluster(redis) ? (redis as unknown as Cluster).nodes('master') : [redis];
}

/** Every key matching `pattern`, a batch at a time (SCAN, never KEYS; every master of a cluster). */
export async function* scanKeys(redis: Redis, pattern: string): AsyncGenerator<string[]> {
  for (const node of serverNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
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
  let deleted = 0;
  for await (const keys of scanKeys(redis, `${prefix}:*`)) deleted += await redis.unlink(...keys);
  return deleted;
}
