import { describe, expect, it } from 'vitest';
import { Beat, systemClock, type Clock } from '../../src/beat/beat.js';
import { resolveSchedule, type ResolvedSchedule } from '../../src/beat/schedule.js';
import type { BeatBackend, BeatStore, Claim, EnqueueRun, PendingFire, ScheduleState } from '../../src/beat/store.js';
import type { ScheduleDefinition } from '../../src/core/task.js';

/** The Redis store's semantics, in memory: the same compare-and-set rules. */
class MemoryStore implements BeatStore {
  readonly states = new Map<string, ScheduleState>();
  readonly pending = new Map<string, number>();
  readonly names = new Set<string>();

  async read(names: readonly string[]) {
    return new Map(names.flatMap((n) => (this.states.has(n) ? [[n, this.states.get(n)!] as const] : [])));
  }
  async claim(c: Claim) {
    const cur = this.states.get(c.name);
    const matches =
      cur === undefined
        ? c.expected === undefined
        : c.expected !== undefined && cur.cursor === c.expected.cursor && cur.spec === c.expected.spec;
    if (!matches) return false;
    this.states.set(c.name, { cursor: c.cursor, spec: c.spec, lastFire: c.fire ? c.cursor : cur?.lastFire });
    this.names.add(c.name);
    if (c.fire) this.pending.set(JSON.stringify([c.name, c.cursor]), c.now);
    return true;
  }
  async confirm(p: PendingFire) {
    const key = JSON.stringify([p.name, p.fireMs]);
    if (this.pending.get(key) === p.claimedAt) this.pending.delete(key);
  }
  async owns(p: PendingFire) {
    return this.pending.get(JSON.stringify([p.name, p.fireMs])) === p.claimedAt;
  }
  async stale(before: number) {
    return [...this.pending]
      .filter(([, at]) => at < before)
      .map(([key, claimedAt]) => {
        const [name, fireMs] = JSON.parse(key) as [string, number];
        return { name, fireMs, claimedAt };
      });
  }
  async takeOver(p: PendingFire, now: number) {
    if (!(await this.owns(p))) return undefined;
    this.pending.set(JSON.stringify([p.name, p.fireMs]), now);
    return { ...p, claimedAt: now };
  }
  async forgetOthers(keep: readonly string[]) {
    const gone = [...this.names].filter((n) => !keep.includes(n));
    for (const n of gone) {
      this.states.delete(n);
      this.names.delete(n);
    }
    return gone;
  }
}

/** A queue that, like BullMQ, adds a custom id once. */
class MemoryQueue {
  readonly ids: string[] = [];
  failures = 0;
  enqueue: EnqueueRun = async (_task, _payload, options) => {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('Connection is closed.');
    }
    const existed = this.ids.includes(options.id);
    if (!existed) this.ids.push(options.id);
    return { id: options.id, queue: options.queue ?? 'default', existed };
  };
}

function fakeClock(start: number): Clock & { t: number } {
  const clock = {
    t: start,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

const T0 = Date.parse('2026-01-01T12:00:00Z');
const schedule = (def: Omit<ScheduleDefinition, 'task'>, name = 'tick'): ResolvedSchedule =>
  resolveSchedule(name, { task: 'hello', ...def }, 'UTC');

function setup(schedules: ResolvedSchedule[], o: { store?: MemoryStore; queue?: MemoryQueue; clock?: Clock & { t: number } } = {}) {
  const store = o.store ?? new MemoryStore();
  const queue = o.queue ?? new MemoryQueue();
  const clock = o.clock ?? fakeClock(T0);
  const lines: string[] = [];
  const backend: BeatBackend = { store, enqueue: queue.enqueue, close: async () => undefined };
  const logger = {
    info: (m: string) => lines.push(m),
    warn: (m: string) => lines.push(`warn: ${m}`),
    error: (m: string) => lines.push(`error: ${m}`),
  };
  const beat = new Beat({ schedules, backend, connect: async () => backend, logger, clock });
  return { beat, store, queue, clock, lines };
}

describe('Beat.tick', () => {
  it('starts a schedule it sees for the first time from now, then enqueues each fire time with its id', async () => {
    const { beat, queue, clock, lines } = setup([schedule({ every: '1s' })]);
    clock.t = T0 + 400;
    expect(await beat.tick()).toBe(T0 + 1000);
    expect(queue.ids).toEqual([]);
    expect(lines).toEqual(['tick: new schedule; first run 2026-01-01 12:00:01 +00:00']);
    clock.t = T0 + 1003;
    expect(await beat.tick()).toBe(T0 + 2000);
    expect(queue.ids).toEqual([`beat-tick-${T0 + 1000}`]);
    expect(lines[1]).toBe(`tick -> hello run beat-tick-${T0 + 1000} on default, due 2026-01-01 12:00:01 +00:00 (+3ms)`);
  });

  it('two beats on one store enqueue every fire time exactly once', async () => {
    const store = new MemoryStore();
    const queue = new MemoryQueue();
    const clock = fakeClock(T0 - 500);
    const a = setup([schedule({ every: '1s' })], { store, queue, clock });
    const b = setup([schedule({ every: '1s' })], { store, queue, clock });
    await Promise.all([a.beat.tick(), b.beat.tick()]);
    for (let i = 0; i < 10; i++) {
      clock.t = T0 + i * 1000 + 2;
      await Promise.all([a.beat.tick(), b.beat.tick()]);
    }
    expect(queue.ids).toEqual(Array.from({ length: 10 }, (_, i) => `beat-tick-${T0 + i * 1000}`));
    expect(a.beat.dispatched + b.beat.dispatched).toBe(10);
    expect(store.pending.size).toBe(0);
  });

  it('a failed enqueue (Redis away) is retried under the same id once Redis is back, and sent once', async () => {
    const { beat, store, queue, clock } = setup([schedule({ every: '1m' })]);
    await beat.tick();
    queue.failures = 1;
    clock.t = T0 + 60_001;
    await expect(beat.tick()).rejects.toThrow(/Connection is closed/);
    expect(store.states.get('tick')!.cursor).toBe(T0 + 60_000);
    expect(store.pending.size).toBe(1);
    clock.t = T0 + 61_000;
    await beat.tick();
    expect(queue.ids).toEqual([`beat-tick-${T0 + 60_000}`]);
    expect(store.pending.size).toBe(0);
  });

  it('a fire time claimed by a beat that died before enqueueing is enqueued by another after the lease', async () => {
    const store = new MemoryStore();
    const s = schedule({ every: '1m' });
    await store.claim({ name: 'tick', expected: undefined, cursor: T0, spec: s.spec, fire: false, now: T0 });
    // The dead beat's claim: the cursor moved, the run never reached the queue.
    await store.claim({
      name: 'tick',
      expected: { cursor: T0, spec: s.spec, lastFire: undefined },
      cursor: T0 + 60_000,
      spec: s.spec,
      fire: true,
      now: T0 + 60_000,
    });
    const { beat, queue, clock, lines } = setup([s], { store });
    clock.t = T0 + 60_000 + 10_000;
    await beat.tick();
    expect(queue.ids).toEqual([]);
    clock.t = T0 + 60_000 + 31_000;
    await beat.tick();
    expect(queue.ids).toEqual([`beat-tick-${T0 + 60_000}`]);
    expect(lines.some((l) => /stopped before confirming it; enqueueing it now/.test(l))).toBe(true);
    expect(store.pending.size).toBe(0);
  });

  it('a changed definition starts over from now instead of backfilling the old cursor', async () => {
    const store = new MemoryStore();
    const first = setup([schedule({ cron: '0 * * * *' })], { store });
    await first.beat.tick();
    const second = setup([schedule({ cron: '30 * * * *' })], { store });
    second.clock.t = T0 + 5 * 3_600_000;
    await second.beat.tick();
    expect(second.queue.ids).toEqual([]);
    expect(second.lines[0]).toBe('tick: definition changed; starting over from now (first run 2026-01-01 17:30:00 +00:00)');
    expect(store.states.get('tick')!.cursor).toBe(T0 + 5 * 3_600_000);
  });

  it('a disabled schedule never fires and is not backfilled when enabled again', async () => {
    const store = new MemoryStore();
    const off = setup([schedule({ every: '1m', enabled: false })], { store });
    await off.beat.tick();
    off.clock.t = T0 + 10 * 60_000 + 1;
    await off.beat.tick();
    expect(off.queue.ids).toEqual([]);
    const on = setup([schedule({ every: '1m' })], { store });
    on.clock.t = T0 + 10 * 60_000 + 40_000;
    await on.beat.tick();
    expect(on.queue.ids).toEqual([]);
  });
});

describe('Beat.start / stop', () => {
  it('Redis unreachable: one line when it goes, one when it is back, then dispatches; removed schedules are forgotten', async () => {
    const store = new MemoryStore();
    store.names.add('gone');
    store.states.set('gone', { cursor: T0, spec: 'every 1000ms', lastFire: undefined });
    const queue = new MemoryQueue();
    const clock = fakeClock(T0);
    const lines: string[] = [];
    let attempts = 0;
    let sleeps = 0;
    const backend: BeatBackend = { store, enqueue: queue.enqueue, close: async () => undefined };
    const beat = new Beat({
      schedules: [schedule({ every: '1s' })],
      connect: async () => {
        attempts += 1;
        if (attempts <= 4) throw new Error('connect ECONNREFUSED');
        return backend;
      },
      logger: { info: (m) => lines.push(m), warn: (m) => lines.push(`warn: ${m}`), error: (m) => lines.push(`error: ${m}`) },
      clock: {
        now: clock.now,
        sleep: async (ms) => {
          clock.t += ms;
          if (++sleeps === 12) void beat.stop();
        },
      },
    });
    await beat.start();
    expect(lines.filter((l) => /Redis unavailable/.test(l))).toEqual([
      'warn: Redis unavailable (connect ECONNREFUSED); beat retries with backoff and sends what is due once it is back',
    ]);
    expect(lines.filter((l) => /reachable again/.test(l))).toHaveLength(1);
    expect(lines).toContain('forgot the state of schedule(s) no longer in the config: gone');
    expect(queue.ids.length).toBeGreaterThanOrEqual(5);
    expect(store.states.has('gone')).toBe(false);
  });

  it('stop() while a connect attempt hangs returns at once', async () => {
    const beat = new Beat({
      schedules: [schedule({ every: '1s' })],
      connect: () => new Promise<BeatBackend>(() => undefined),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    const done = beat.start();
    await new Promise((r) => setTimeout(r, 20));
    const t = performance.now();
    await beat.stop();
    await done;
    expect(performance.now() - t).toBeLessThan(100);
  });

  it('stop() during a sleep returns at once', async () => {
    const { store } = setup([]);
    const queue = new MemoryQueue();
    const backend: BeatBackend = { store, enqueue: queue.enqueue, close: async () => undefined };
    const beat = new Beat({
      schedules: [schedule({ cron: '0 0 1 1 *' })],
      backend,
      connect: async () => backend,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      clock: systemClock,
    });
    const done = beat.start();
    await new Promise((r) => setTimeout(r, 20));
    const t = performance.now();
    await beat.stop();
    await done;
    expect(performance.now() - t).toBeLessThan(100);
  });
});
