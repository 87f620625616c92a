import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { sleep } from '../core/async.js';
import { errorMessage, RedisUnavailableError, RuntimeError, UsageError } from '../core/errors.js';
import { hashTag } from '../core/url.js';
import { isCluster, scanKeys, type Redis } from './connection.js';
import { layoutOneGuardedKeys, layoutOneKeyTarget, REDIS_LAYOUT_VERSION, tqKeys } from './keys.js';
import { isOutOfMemoryError } from './memory.js';

/**
 * Moves one key of layout 1 to its layout-2 name, unless something is there already. A key
 * that a layout-1 process still running writes with a type-checked command (XADD, SADD, ZADD,
 * HSET) is replaced by a string in the same step, so that process's next write fails with
 * WRONGTYPE (it logs it) instead of silently feeding keys nobody reads any more.
 */
const MOVE = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
if ARGV[1] == '1' then redis.call('SET', KEYS[1], ARGV[2]) end
return 1`;

/** What a layout-1 process finds in the keys it used to write. */
export const LAYOUT_ONE_TOMBSTONE = 'moved by tq layout 2: upgrade this process';

/** How long one process may hold the migration before another may take it over (ms). */
const MIGRATION_LEASE_MS = 30_000;

/**
 * Checks the topology, then records (or checks) the layout version of tq's data under `prefix`,
 * moving an older layout's keys first; refuses to run against data written by a newer layout.
 * Every tq process comes through here before it uses Redis.
 *
 * Reads first and writes only when the key is missing: every command (inspect and purge too)
 * comes through here, and Redis at `maxmemory` with `noeviction` refuses any write, even a
 * `SET NX` that would change nothing. A missing key that cannot be written for lack of memory is
 * left to the next process that can write: nothing newer wrote there either.
 */
export async function ensureLayout(redis: Redis, prefix: string): Promise<void> {
  await checkTopology(redis, prefix);
  const key = tqKeys(prefix).layout;
  let stored = await redis.get(key);
  if (stored === null) {
    try {
      // A cluster never ran layout 1 (it could not: its keys span slots).
      if (!isCluster(redis)) {
        await migrateLayoutOne(redis, prefix);
        // A guard where layout 1 looks: a tq of that version started later refuses to run
        // ("newer than this tq understands") instead of writing keys nobody reads.
        await redis.set(`${prefix}:_tq:layout`, String(REDIS_LAYOUT_VERSION), 'NX');
      }
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

/**
 * A cluster needs a hash-tagged prefix (BullMQ's scripts and tq's touch several keys at once,
 * which a cluster allows only within one slot); a cluster node reached by a plain URL answers
 * most commands with MOVED. Both are refused here, before anything says it is ready.
 */
async function checkTopology(redis: Redis, prefix: string): Promise<void> {
  if (isCluster(redis)) {
    if (hashTag(prefix) === undefined) {
      throw new UsageError(`prefix "${prefix}" has no hash tag, which a Redis Cluster needs (every key of a prefix must be in one slot)`, {
        hint: `use a hash-tagged prefix such as --prefix "{${prefix}}" (or TQ_PREFIX)`,
      });
    }
    return;
  }
  let info: string;
  try {
    info = await redis.info('cluster');
  } catch (err) {
    // Some managed services forbid INFO sections; then there is nothing to check here.
    if (/NOPERM|unknown command|unknown subcommand/i.test(errorMessage(err))) return;
    throw err;
  }
  if (/cluster_enabled:1/.test(info)) {
    throw new RuntimeError(
      'E_CLUSTER_URL',
      'this Redis is a cluster node, but the URL is for a single server (commands would fail with MOVED)',
      {
        hint: `connect with redis+cluster://host:port[,host:port...] and a hash-tagged prefix such as --prefix "{${hashTag(prefix) ?? prefix}}"`,
      },
    );
  }
}

/**
 * Moves layout 1's keys (`<prefix>:_tq:*`) to layout 2's, once. One process does it, holding
 * a lease (`SET NX PX`); the others starting meanwhile wait for the new layout key. Keys are
 * moved one at a time by a script (see MOVE), so a layout-1 process still writing meanwhile
 * either wrote before the move (its write moves too) or fails after it. Last, the old layout
 * key says 2: a layout-1 tq started later refuses to run ("newer than this tq understands").
 */
async function migrateLayoutOne(redis: Redis, prefix: string): Promise<void> {
  const oldLayout = `${prefix}:_tq:layout`;
  const old = await redis.get(oldLayout);
  if (old === null || Number(old) >= REDIS_LAYOUT_VERSION) return;
  const keys = tqKeys(prefix);
  const token = `${os.hostname()}:${process.pid}:${randomUUID()}`;
  const deadline = Date.now() + 2 * MIGRATION_LEASE_MS;
  while ((await redis.set(keys.migrating, token, 'PX', MIGRATION_LEASE_MS, 'NX')) === null) {
    if ((await redis.get(keys.layout)) !== null) return;
    if (Date.now() > deadline) {
      throw new RuntimeError('E_LAYOUT', `another process has been moving tq's keys under prefix "${prefix}" for too long`, {
        hint: 'try again; if it persists, look for a tq process stuck at start',
      });
    }
    await sleep(100);
  }
  try {
    if ((await redis.get(keys.layout)) !== null) return;
    const guarded = new Set(layoutOneGuardedKeys(prefix));
    for await (const batch of scanKeys(redis, `${prefix}:_tq:*`)) {
      for (const key of batch) {
        const target = layoutOneKeyTarget(prefix, key);
        if (target === undefined) continue;
        await redis.eval(MOVE, 2, key, target, guarded.has(key) ? '1' : '0', LAYOUT_ONE_TOMBSTONE);
      }
    }
    // Keys a layout-1 process would create from nothing get their guard too.
    for (const key of guarded) await redis.set(key, LAYOUT_ONE_TOMBSTONE, 'NX');
    await redis.set(oldLayout, String(REDIS_LAYOUT_VERSION));
    await redis.set(keys.layout, String(REDIS_LAYOUT_VERSION), 'NX');
  } finally {
    if ((await redis.get(keys.migrating)) === token) await redis.del(keys.migrating);
  }
}
