/**
 * Redis's memory as tq sees it: how full it is, whether it may evict keys, and whether it has.
 *
 * Two dangers, two answers:
 * - `noeviction` at `maxmemory`: Redis refuses every write (`OOM command not allowed`) but keeps
 *   every key. Reads and deletes still work, so inspect and purge keep working; writes fail with
 *   one line that names `maxmemory` and what to do (`RedisOutOfMemoryError`).
 * - any other policy with a `maxmemory`: Redis deletes keys to make room. `allkeys-*` deletes
 *   queued runs themselves; `volatile-*` deletes only keys with a TTL, but BullMQ's run locks and
 *   deduplication keys and tq's heartbeats and cancel marks all have one, so an evicted lock runs
 *   a run twice and an evicted heartbeat makes a live worker look dead. Writers refuse both
 *   unless the config says `redis: { allowEviction: true }` (`EvictionPolicyError`).
 *
 * Everything here reads `INFO` (not `CONFIG`, which managed Redis services often forbid).
 */
import { errorMessage, TqError } from '../core/errors.js';
import type { Redis } from './redis-client.js';

/** What Redis says about its memory (`INFO memory` and `INFO stats`). */
export interface RedisMemory {
  /** Memory Redis counts against `maxmemory` (used memory less replication/AOF buffers), bytes. */
  readonly usedBytes: number;
  /** `maxmemory` in bytes; 0: no limit. */
  readonly maxBytes: number;
  /** `maxmemory-policy`. */
  readonly policy: string;
  /** Keys evicted since Redis started (`evicted_keys`). */
  readonly evictedKeys: number;
}

/**
 * The last memory figures this process read, for the one line that reports an OOM reply from
 * any command (BullMQ's scripts included): the CLI maps such a reply after the fact, when no
 * connection is at hand to ask again.
 */
let lastRead: RedisMemory | undefined;

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:([^\\r\\n]*)`, 'm').exec(info)?.[1];
}

/** Reads the memory figures: one round trip (two `INFO` sections, pipelined; Redis 6.2 takes one section per call). */
export async function readMemory(redis: Redis): Promise<RedisMemory> {
  const replies = (await redis.pipeline().info('memory').info('stats').exec()) ?? [];
  const texts = replies.map(([err, reply]) => {
    if (err) throw err;
    return String(reply);
  });
  const memory = texts[0] ?? '';
  const stats = texts[1] ?? '';
  const used = Number(field(memory, 'used_memory') ?? 0);
  const notCounted = Number(field(memory, 'mem_not_counted_for_evict') ?? 0);
  lastRead = {
    usedBytes: Math.max(0, used - notCounted),
    maxBytes: Number(field(memory, 'maxmemory') ?? 0),
    policy: field(memory, 'maxmemory_policy') ?? 'unknown',
    evictedKeys: Number(field(stats, 'evicted_keys') ?? 0),
  };
  return lastRead;
}

/** Whether Redis may delete keys to make room (a limit is set and the policy is not `noeviction`). */
export function mayEvict(memory: RedisMemory): boolean {
  return memory.maxBytes > 0 && memory.policy !== 'noeviction';
}

/** Whether Redis refuses writes now: `noeviction` and over `maxmemory`. */
export function refusesWrites(memory: RedisMemory): boolean {
  return memory.maxBytes > 0 && memory.policy === 'noeviction' && memory.usedBytes > memory.maxBytes;
}

/** `3.0 MiB`, `512 KiB`, `900 B`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

const OOM_REPLY = /OOM command not allowed/;

/** Whether `err` (or an error it wraps, through `cause`) is Redis refusing a write for memory. */
export function isOutOfMemoryError(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    if (e instanceof RedisOutOfMemoryError || OOM_REPLY.test(errorMessage(e))) return true;
  }
  return false;
}

/** Redis refuses writes: `noeviction` at `maxmemory`. Exit 1. */
export class RedisOutOfMemoryError extends TqError {
  constructor(memory: RedisMemory | undefined = lastRead, options: { cause?: unknown } = {}) {
    const figures = memory
      ? `maxmemory ${formatBytes(memory.maxBytes)}, used ${formatBytes(memory.usedBytes)}, policy ${memory.policy}`
      : 'over maxmemory, policy noeviction';
    super('E_REDIS_OOM', `Redis is out of memory (${figures}): writes are refused`, 1, {
      hint: 'free memory (tq control purge --state completed) or raise maxmemory',
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
  }
}

/** Redis may evict tq's keys and the config does not allow it. Exit 2 (a setting to change). */
export class EvictionPolicyError extends TqError {
  constructor(memory: RedisMemory) {
    super(
      'E_REDIS_EVICTION',
      `Redis maxmemory-policy is "${memory.policy}" (maxmemory ${formatBytes(memory.maxBytes)}): Redis may evict queued runs, their locks and worker heartbeats`,
      2,
      { hint: 'set maxmemory-policy noeviction, or allow it in the config with redis: { allowEviction: true }' },
    );
  }
}

/** `err` as the one-line out-of-memory error when it is one (figures from the last read), else itself. */
export function asOutOfMemory(err: unknown): unknown {
  if (err instanceof RedisOutOfMemoryError || !isOutOfMemoryError(err)) return err;
  return new RedisOutOfMemoryError(lastRead, { cause: err });
}

/**
 * What a worker checks before it starts: refuses an evicting policy unless `allowEviction`, and a
 * Redis that refuses writes already (it could neither take nor finish a run). Returns the figures.
 */
export async function assertWritable(redis: Redis, options: { allowEviction: boolean }): Promise<RedisMemory> {
  const memory = await readMemory(redis);
  if (mayEvict(memory) && !options.allowEviction) throw new EvictionPolicyError(memory);
  if (refusesWrites(memory)) throw new RedisOutOfMemoryError(memory);
  return memory;
}

/**
 * What a producer (enqueue, beat, the client) checks when it connects: refuses an evicting
 * policy unless `allowEviction`. A full Redis is not refused here: its write fails with the
 * out-of-memory line anyway, and a beat reconnecting must not give up on it. A user whose ACL
 * denies `INFO` is not checked (nothing to read the policy from).
 */
export async function assertEvictionAllowed(redis: Redis, allowEviction: boolean): Promise<void> {
  let memory: RedisMemory;
  try {
    memory = await readMemory(redis);
  } catch (err) {
    if (err instanceof Error && /^NOPERM/.test(err.message)) return;
    throw err;
  }
  if (mayEvict(memory) && !allowEviction) throw new EvictionPolicyError(memory);
}
