import type { Redis } from 'ioredis';
import type { BeatBackend, BeatStore, Claim, PendingFire, ScheduleState } from '../beat/store.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { tqKeys } from './keys.js';
import { Producer, producerConnection, type ProducerSettings } from './producer.js';

/**
 * The compare-and-set on a schedule's cursor. Applied only when the stored cursor (and spec)
 * are still what the caller read; a fire claim also records the fire time as pending, in the
 * same atomic step, so a beat that dies before enqueueing leaves a trace another beat can act
 * on. Cursors are compared as the decimal text they were written as.
 *
 * KEYS: 1 schedule hash, 2 pending zset, 3 names set
 * ARGV: 1 expected cursor ('' = no state yet), 2 expected spec, 3 new cursor, 4 new spec,
 *       5 '1' for a fire claim, 6 now (ms), 7 pending member, 8 schedule name
 */
const CLAIM = `
local cursor = redis.call('HGET', KEYS[1], 'cursor')
if cursor == false then
  if ARGV[1] ~= '' then return 0 end
else
  if cursor ~= ARGV[1] then return 0 end
  if redis.call('HGET', KEYS[1], 'spec') ~= ARGV[2] then return 0 end
end
redis.call('HSET', KEYS[1], 'cursor', ARGV[3], 'spec', ARGV[4], 'updatedAt', ARGV[6])
redis.call('SADD', KEYS[3], ARGV[8])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'lastFire', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])
end
return 1
`;

/** Drops a pending entry if its stamp is still ARGV[2] (its owner has not changed). KEYS: pending zset. */
const CONFIRM = `
local stamp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if stamp and tonumber(stamp) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
`;

/** Re-stamps a pending entry with ARGV[3] if its stamp is still ARGV[2]: one taker wins. */
const TAKE_OVER = `
local stamp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not stamp or tonumber(stamp) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`;

const member = (name: string, fireMs: number) => JSON.stringify([name, fireMs]);
const ms = (value: number) => String(Math.floor(value));

/**
 * Beat's shared state in Redis, under `<prefix>::tq:beat:...`: a hash per schedule (`cursor`,
 * `spec`, `lastFire`, `updatedAt`), a zset of pending claims and the set of known names.
 */
export class RedisBeatStore implements BeatStore {
  private readonly keys: ReturnType<typeof tqKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = tqKeys(prefix);
  }

  async read(names: readonly string[]): Promise<Map<string, ScheduleState>> {
    const out = new Map<string, ScheduleState>();
    if (names.length === 0) return out;
    const pipeline = this.redis.pipeline();
    for (const name of names) pipeline.hgetall(this.keys.beatSchedule(name));
    const results = (await pipeline.exec()) ?? [];
    names.forEach((name, i) => {
      const [err, value] = results[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const h = value as Record<string, string>;
      if (h.cursor === undefined) return;
      out.set(name, {
        cursor: Number(h.cursor),
        spec: h.spec ?? '',
        lastFire: h.lastFire === undefined ? undefined : Number(h.lastFire),
      });
    });
    return out;
  }

  async claim(c: Claim): Promise<boolean> {
    const won = await this.redis.eval(
      CLAIM,
      3,
      this.keys.beatSchedule(c.name),
      this.keys.beatPending,
      this.keys.beatNames,
      c.expected ? ms(c.expected.cursor) : '',
      c.expected?.spec ?? '',
      ms(c.cursor),
      c.spec,
      c.fire ? '1' : '0',
      ms(c.now),
      member(c.name, c.cursor),
      c.name,
    );
    return won === 1;
  }

  async confirm(p: PendingFire): Promise<void> {
    await this.redis.eval(CONFIRM, 1, this.keys.beatPending, member(p.name, p.fireMs), ms(p.claimedAt));
  }

  async owns(p: PendingFire): Promise<boolean> {
    const stamp = await this.redis.zscore(this.keys.beatPending, member(p.name, p.fireMs));
    return stamp !== null && Number(stamp) === Math.floor(p.claimedAt);
  }

  async stale(before: number, limit: number): Promise<PendingFire[]> {
    const flat = await this.redis.zrangebyscore(this.keys.beatPending, '-inf', `(${ms(before)}`, 'WITHSCORES', 'LIMIT', 0, limit);
    const out: PendingFire[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      try {
        const [name, fireMs] = JSON.parse(flat[i]!) as [string, number];
        out.push({ name, fireMs, claimedAt: Number(flat[i + 1]) });
      } catch {
        // Not ours to interpret; leave it for whoever wrote it.
      }
    }
    return out;
  }

  async takeOver(p: PendingFire, now: number): Promise<PendingFire | undefined> {
    const won = await this.redis.eval(TAKE_OVER, 1, this.keys.beatPending, member(p.name, p.fireMs), ms(p.claimedAt), ms(now));
    return won === 1 ? { name: p.name, fireMs: p.fireMs, claimedAt: Math.floor(now) } : undefined;
  }

  async forgetOthers(keep: readonly string[]): Promise<string[]> {
    const wanted = new Set(keep);
    const known = await this.redis.smembers(this.keys.beatNames);
    const gone = known.filter((name) => !wanted.has(name)).sort();
    if (gone.length === 0) return [];
    await this.redis
      .multi()
      .del(...gone.map((name) => this.keys.beatSchedule(name)))
      .srem(this.keys.beatNames, ...gone)
      .exec();
    return gone;
  }
}

/**
 * Beat's Redis side on one connection: the store and a producer to enqueue with. The producer's
 * connection fails fast, so a lost Redis surfaces as an error the beat loop answers by building
 * a new backend (with backoff) rather than hanging.
 */
/** A beat backend on Redis, with what the connection found about this host's clock. */
export interface RedisBeatBackend extends BeatBackend {
  /** The Redis server's clock minus this host's, ms (negative: this host runs ahead). */
  readonly clockOffsetMs: number;
}

export async function connectBeatBackend(config: ResolvedConfig, settings: ProducerSettings): Promise<RedisBeatBackend> {
  // The beat judges its clock itself (it may refuse to start), through its own logger.
  const producer = await Producer.connect(config, { ...settings, clockWarning: false });
  const watched = new Set<string>();
  return {
    clockOffsetMs: producer.clockOffsetMs,
    store: new RedisBeatStore(producerConnection(producer), settings.prefix),
    enqueue: async (task, payload, options) => {
      const queueName = options.queue ?? config.tasks.get(task)?.queue;
      if (queueName && !watched.has(queueName)) {
        watched.add(queueName);
        // Without a listener BullMQ prints every connection error with its stack. The beat loop
        // meets the same failure on its next command and reports it once per outage.
        producer.queue(queueName).on('error', () => undefined);
      }
      const run = await producer.enqueue(task, payload, options);
      return { id: run.id, queue: run.queue, existed: run.existed };
    },
    close: async () => {
      // Unwritten history events were reported through the producer's onWarning.
      await producer.close();
    },
  };
}
