import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { startRedis } from '../helpers/redis-server.js';
import { Beat, type Clock } from '../../src/beat/beat.js';
import { resolveSchedules } from '../../src/beat/schedule.js';
import { scheduleRows } from '../../src/beat/status.js';
import type { BeatBackend } from '../../src/beat/store.js';
import { configFromObject } from '../../src/config/load.js';
import type { ScheduleDefinition } from '../../src/core/task.js';
import { RedisBeatStore, connectBeatBackend } from '../../src/queue/beat-store.js';
import { deletePrefix } from '../../src/queue/connection.js';

const redisUrl = inject('redisUrl');
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
const prefixes: string[] = [];
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
});
afterAll(async () => {
  // Only this file's own keys: every test has its own prefix.
  for (const p of prefixes) await deletePrefix(redis, p);
  await redis.quit();
});

function newPrefix(): string {
  const p = `tbeat${randomBytes(4).toString('hex')}`;
  prefixes.push(p);
  return p;
}

const T0 = Date.parse('2026-01-01T12:00:00Z');
const MIN = 60_000;

function world(schedules: Record<string, Omit<ScheduleDefinition, 'task'>>) {
  const prefix = newPrefix();
  const config = configFromObject(
    {
      tasks: { hello: { run: async () => 'hi' } },
      schedules: Object.fromEntries(Object.entries(schedules).map(([n, s]) => [n, { task: 'hello', ...s }])),
      timezone: 'UTC',
    },
    os.tmpdir(),
  );
  const clock: Clock & { t: number } = { t: T0, now: () => clock.t, sleep: async () => undefined };
  const lines: string[] = [];
  const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const queue = new Queue('default', { connection: redis, prefix });
  closers.push(() => queue.close());
  async function beat(): Promise<Beat> {
    const backend: BeatBackend = await connectBeatBackend(config, { redisUrl, prefix });
    closers.push(() => backend.close());
    return new Beat({ schedules: resolveSchedules(config), backend, connect: async () => backend, logger, clock });
  }
  const ids = async () => (await queue.getJobs(['waiting', 'prioritized'])).map((j) => j.id!).sort();
  return { prefix, config, clock, lines, beat, ids, store: new RedisBeatStore(redis, prefix) };
}

describe('RedisBeatStore: the compare-and-set', () => {
  it('of 20 concurrent claims of the same fire time on separate connections, exactly one wins', async () => {
    const prefix = newPrefix();
    const clients = Array.from({ length: 20 }, () => new Redis(redisUrl));
    closers.push(async () => Promise.all(clients.map((c) => c.quit())));
    const stores = clients.map((c) => new RedisBeatStore(c, prefix));
    await stores[0]!.claim({ name: 'n', expected: undefined, cursor: T0, spec: 'every 60000ms', fire: false, now: T0 });
    const expected = { cursor: T0, spec: 'every 60000ms', lastFire: undefined };
    const wins = await Promise.all(
      stores.map((s) => s.claim({ name: 'n', expected, cursor: T0 + MIN, spec: 'every 60000ms', fire: true, now: T0 + MIN })),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect((await stores[0]!.read(['n'])).get('n')).toEqual({ cursor: T0 + MIN, spec: 'every 60000ms', lastFire: T0 + MIN });
    expect(await stores[0]!.stale(T0 + MIN + 1, 10)).toEqual([{ name: 'n', fireMs: T0 + MIN, claimedAt: T0 + MIN }]);
  });

  it('loses on a stale cursor, a different spec, or a first claim when state exists', async () => {
    const store = new RedisBeatStore(redis, newPrefix());
    expect(await store.claim({ name: 'n', expected: undefined, cursor: T0, spec: 'a', fire: false, now: T0 })).toBe(true);
    expect(await store.claim({ name: 'n', expected: undefined, cursor: T0 + 1, spec: 'a', fire: false, now: T0 })).toBe(false);
    expect(
      await store.claim({
        name: 'n',
        expected: { cursor: T0 - 1, spec: 'a', lastFire: undefined },
        cursor: T0 + 1,
        spec: 'a',
        fire: true,
        now: T0,
      }),
    ).toBe(false);
    expect(
      await store.claim({
        name: 'n',
        expected: { cursor: T0, spec: 'b', lastFire: undefined },
        cursor: T0 + 1,
        spec: 'a',
        fire: true,
        now: T0,
      }),
    ).toBe(false);
    expect((await store.read(['n', 'other'])).get('n')).toEqual({ cursor: T0, spec: 'a', lastFire: undefined });
  });

  it('pending claims: confirm only by their owner, one taker of a stale one, removed schedules forgotten', async () => {
    const store = new RedisBeatStore(redis, newPrefix());
    await store.claim({ name: 'n', expected: undefined, cursor: T0, spec: 'a', fire: false, now: T0 });
    await store.claim({
      name: 'n',
      expected: { cursor: T0, spec: 'a', lastFire: undefined },
      cursor: T0 + MIN,
      spec: 'a',
      fire: true,
      now: 1000,
    });
    const mine = { name: 'n', fireMs: T0 + MIN, claimedAt: 1000 };
    expect(await store.owns(mine)).toBe(true);
    const takers = await Promise.all([store.takeOver(mine, 5000), store.takeOver(mine, 6000)]);
    const taken = takers.filter((t) => t !== undefined);
    expect(taken).toHaveLength(1);
    expect(await store.owns(mine)).toBe(false);
    await store.confirm(mine);
    expect(await store.stale(Number.MAX_SAFE_INTEGER, 10)).toHaveLength(1);
    await store.confirm(taken[0]!);
    expect(await store.stale(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    await store.claim({ name: 'm', expected: undefined, cursor: T0, spec: 'a', fire: false, now: T0 });
    expect(await store.forgetOthers(['m'])).toEqual(['n']);
    expect([...(await store.read(['n', 'm'])).keys()]).toEqual(['m']);
  });
});

describe('Beat against real Redis, with an injected clock', () => {
  it('beat stopped for 3 periods then restarted: latest enqueues one run, all three, skip none', async () => {
    const w = world({
      late: { every: '1m', missed: 'latest' },
      every: { every: '1m', missed: 'all' },
      skipper: { every: '1m', missed: 'skip' },
    });
    const first = await w.beat();
    w.clock.t = T0 - 1000;
    await first.tick();
    w.clock.t = T0 + 5;
    await first.tick();
    const before = await w.ids();
    expect(before).toHaveLength(3);

    // Down from 12:00:00 to 12:03:40: 12:01, 12:02 and 12:03 were missed.
    const restarted = await w.beat();
    w.clock.t = T0 + 3 * MIN + 40_000;
    await restarted.tick();
    const added = (await w.ids()).filter((id) => !before.includes(id));
    expect(added.sort()).toEqual(
      [`beat-late-${T0 + 3 * MIN}`, `beat-every-${T0 + MIN}`, `beat-every-${T0 + 2 * MIN}`, `beat-every-${T0 + 3 * MIN}`].sort(),
    );
    expect(w.lines).toContain("late: 3 missed run(s); enqueueing only the latest (missed: 'latest')");
    expect(w.lines).toContain("every: 3 missed run(s); enqueueing 3 (missed: 'all')");
    expect(w.lines).toContain("skipper: skipped 3 missed run(s) (missed: 'skip')");

    // And all three are back on time at the next fire time.
    w.clock.t = T0 + 4 * MIN + 3;
    await restarted.tick();
    for (const name of ['late', 'every', 'skipper']) expect(await w.ids()).toContain(`beat-${name}-${T0 + 4 * MIN}`);
    expect(await w.ids()).toHaveLength(3 + 4 + 3);
  });

  it('two beats racing at every fire time enqueue each one once', async () => {
    const w = world({ tick: { every: '1s' } });
    const [a, b] = await Promise.all([w.beat(), w.beat()]);
    w.clock.t = T0 - 300;
    await Promise.all([a.tick(), b.tick()]);
    for (let i = 0; i < 8; i++) {
      w.clock.t = T0 + i * 1000 + 1;
      await Promise.all([a.tick(), b.tick()]);
    }
    expect(await w.ids()).toEqual(Array.from({ length: 8 }, (_, i) => `beat-tick-${T0 + i * 1000}`).sort());
    expect(a.dispatched + b.dispatched).toBe(8);
  });

  it('a claim whose beat died before enqueueing is enqueued by the next beat after the lease', async () => {
    const w = world({ nightly: { cron: '0 3 * * *' } });
    const [s] = resolveSchedules(w.config);
    const night = Date.parse('2026-01-02T03:00:00Z');
    await w.store.claim({ name: 'nightly', expected: undefined, cursor: night - 1000, spec: s!.spec, fire: false, now: night - 1000 });
    await w.store.claim({
      name: 'nightly',
      expected: { cursor: night - 1000, spec: s!.spec, lastFire: undefined },
      cursor: night,
      spec: s!.spec,
      fire: true,
      now: night,
    });
    const beat = await w.beat();
    w.clock.t = night + 45_000;
    await beat.tick();
    expect(await w.ids()).toEqual([`beat-nightly-${night}`]);
    expect(await w.store.stale(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('scheduleRows: what tq inspect schedule shows', async () => {
    const w = world({ tick: { every: '1m' }, nightly: { cron: '0 3 * * *', tz: 'Asia/Seoul' }, off: { cron: '@daily', enabled: false } });
    const beat = await w.beat();
    await beat.tick();
    w.clock.t = T0 + MIN + 2;
    await beat.tick();
    const rows = await scheduleRows(w.config, w.store, T0 + MIN + 10);
    expect(rows).toEqual([
      {
        name: 'nightly',
        task: 'hello',
        expression: '0 3 * * *',
        zone: 'Asia/Seoul',
        enabled: true,
        missed: 'latest',
        lastFire: null,
        nextFire: '2026-01-01T18:00:00.000Z',
      },
      { name: 'off', task: 'hello', expression: '@daily', zone: 'UTC', enabled: false, missed: 'latest', lastFire: null, nextFire: null },
      {
        name: 'tick',
        task: 'hello',
        expression: 'every 1m',
        zone: 'UTC',
        enabled: true,
        missed: 'latest',
        lastFire: '2026-01-01T12:01:00.000Z',
        nextFire: '2026-01-01T12:02:00.000Z',
      },
    ]);
  });
});

describe('Beat and a Redis restart (real clock)', () => {
  it('logs one line when Redis goes, one when it is back, and enqueues each fire time at most once', async () => {
    const server = await startRedis({ appendonly: true });
    closers.push(() => server.stop());
    const prefix = newPrefix();
    const config = configFromObject(
      { tasks: { hello: { run: async () => 'hi' } }, schedules: { tick: { task: 'hello', every: '1s' } } },
      os.tmpdir(),
    );
    const lines: string[] = [];
    const ids: string[] = [];
    const connect = () => connectBeatBackend(config, { redisUrl: server.url, prefix });
    const beat = new Beat({
      schedules: resolveSchedules(config),
      backend: await connect(),
      connect,
      logger: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
      onDispatch: (d) => ids.push(d.id),
    });
    closers.push(() => beat.stop());
    void beat.start();
    await waitUntil(() => ids.length >= 1);
    await server.stop();
    await waitUntil(() => lines.some((l) => /Redis unavailable/.test(l)));
    const before = ids.length;
    await server.restart();
    await waitUntil(() => lines.some((l) => /reachable again/.test(l)) && ids.length >= before + 2, 15_000);
    await beat.stop();
    expect(lines.filter((l) => /Redis unavailable/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /reachable again/.test(l))).toHaveLength(1);
    expect(new Set(ids).size).toBe(ids.length);
    const check = new Redis(server.url);
    try {
      const queue = new Queue('default', { connection: check, prefix });
      const inRedis = (await queue.getJobs(['waiting'])).map((j) => j.id!).sort();
      await queue.close();
      expect(inRedis).toEqual([...ids].sort());
    } finally {
      check.disconnect();
    }
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
