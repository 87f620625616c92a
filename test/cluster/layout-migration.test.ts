import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect } from '../../src/queue/connection.js';
import { tqKeys } from '../../src/queue/keys.js';
import { ensureLayout, LAYOUT_ONE_TOMBSTONE } from '../../src/queue/layout.js';

/** Layout 1 (`<prefix>:_tq:*`) is moved to layout 2 (`<prefix>::tq:*`) once, whoever starts first. */
let root: Redis;
beforeAll(() => {
  root = new Redis(inject('redisUrl'));
});
afterAll(() => {
  root.disconnect();
});

async function writeLayoutOne(prefix: string): Promise<void> {
  const old = `${prefix}:_tq`;
  await root
    .multi()
    .set(`${old}:layout`, '1')
    .xadd(`${old}:events`, '*', 'e', '{"type":"enqueued"}')
    .sadd(`${old}:queues`, 'default', 'images')
    .hset(`${old}:beat:schedule:nightly`, 'cursor', '123')
    .zadd(`${old}:workers`, Date.now(), 'w1')
    .set(`${old}:worker-name:w1`, 'host:1', 'PX', 60_000)
    .set(`${old}:cancel:run1`, 'cancelled by user')
    .exec();
}

describe('layout migration', () => {
  it('five processes starting at once move every key exactly once; layout-1 writers then fail loudly', async () => {
    const prefix = `m${randomBytes(4).toString('hex')}`;
    await writeLayoutOne(prefix);
    const conns = await Promise.all(Array.from({ length: 5 }, () => connect(inject('redisUrl'), { role: 'producer' })));
    try {
      await Promise.all(conns.map((c) => ensureLayout(c, prefix)));
    } finally {
      for (const c of conns) c.disconnect();
    }
    const k = tqKeys(prefix);
    expect(await root.get(k.layout)).toBe('2');
    expect(await root.exists(k.migrating)).toBe(0);
    expect(await root.xlen(k.events)).toBe(1);
    expect((await root.smembers(k.queues)).sort()).toEqual(['default', 'images']);
    expect(await root.hget(k.beatSchedule('nightly'), 'cursor')).toBe('123');
    expect(await root.zscore(k.workers, 'w1')).not.toBeNull();
    expect(await root.get(k.cancel('run1'))).toBe('cancelled by user');
    // A moved key keeps its time to live.
    expect(await root.pttl(k.workerName('w1'))).toBeGreaterThan(0);

    // The old keys a layout-1 process writes with typed commands now hold a string: its writes fail.
    expect(await root.get(`${prefix}:_tq:events`)).toBe(LAYOUT_ONE_TOMBSTONE);
    await expect(root.xadd(`${prefix}:_tq:events`, '*', 'e', 'x')).rejects.toThrow(/WRONGTYPE/);
    await expect(root.hset(`${prefix}:_tq:marks`, 'default:1', 'x')).rejects.toThrow(/WRONGTYPE/);
    await expect(root.zadd(`${prefix}:_tq:workers`, 1, 'w2')).rejects.toThrow(/WRONGTYPE/);
    // A layout-1 tq starting later reads version 2 there and refuses to run.
    expect(await root.get(`${prefix}:_tq:layout`)).toBe('2');
    // Nothing of layout 1 is left but the guards and the old layout key.
    const left = await root.keys(`${prefix}:_tq:*`);
    expect(left.sort()).toEqual(
      ['beat:names', 'beat:pending', 'events', 'layout', 'marks', 'queues', 'workers'].map((s) => `${prefix}:_tq:${s}`).sort(),
    );

    // Starting again changes nothing.
    const again = await connect(inject('redisUrl'), { role: 'producer' });
    try {
      await ensureLayout(again, prefix);
    } finally {
      again.disconnect();
    }
    expect(await root.xlen(k.events)).toBe(1);
  });

  it('a fresh prefix gets layout 2, and only the guard that makes a layout-1 tq refuse to run', async () => {
    const prefix = `m${randomBytes(4).toString('hex')}`;
    const c = await connect(inject('redisUrl'), { role: 'producer' });
    try {
      await ensureLayout(c, prefix);
    } finally {
      c.disconnect();
    }
    expect(await root.get(tqKeys(prefix).layout)).toBe('2');
    expect(await root.keys(`${prefix}:_tq:*`)).toEqual([`${prefix}:_tq:layout`]);
    expect(await root.get(`${prefix}:_tq:layout`)).toBe('2');
  });
});
