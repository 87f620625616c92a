import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { RunEvent } from '../../src/core/run-events.js';
import type { TaskLogger } from '../../src/core/task.js';
import { tqKeys } from '../../src/queue/keys.js';
import { RunEventReader, RunEventWriter } from '../../src/queue/run-stream.js';
import { getMeta } from '../../src/store/database.js';
import { Recorder } from '../../src/store/recorder.js';
import { openStore, type Store } from '../../src/store/store.js';

const redisUrl = inject('redisUrl');
const dirs: string[] = [];
const clients: Redis[] = [];

function client(): Redis {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  clients.push(r);
  return r;
}

let redis: Redis;
beforeAll(() => {
  redis = client();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

class MemoryLogger implements TaskLogger {
  readonly infos: string[] = [];
  readonly warnings: string[] = [];
  info(message: string): void {
    this.infos.push(message);
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
}

/** One isolated world per test: a random prefix, a fresh SQLite file, a writer. */
interface World {
  prefix: string;
  key: string;
  file: string;
  store: Store;
  writer: RunEventWriter;
  logger: MemoryLogger;
  recorder(options?: ConstructorParameters<typeof Recorder>[2], store?: Store): Recorder;
  openAnother(): Store;
}

let world: World;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-recorder-'));
  dirs.push(dir);
  const file = path.join(dir, '.tq', 'tq.db');
  const store = openStore(file);
  const logger = new MemoryLogger();
  const stores: Store[] = [store];
  cleanups.push(() => stores.forEach((s) => s.close()));
  cleanups.push(async () => {
    // Only this test's keys.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  });
  world = {
    prefix,
    key: tqKeys(prefix).events,
    file,
    store,
    writer: new RunEventWriter(redis, prefix),
    logger,
    // Each recorder reads on a connection of its own (XREAD BLOCK holds it), as in tq itself.
    recorder: (options = {}, s = store) => new Recorder(s.db, new RunEventReader(client(), prefix), { logger, ...options }),
    openAnother: () => {
      const s = openStore(file);
      stores.push(s);
      return s;
    },
  };
});

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const T0 = Date.now() - 60_000;
function lifecycle(jobId: string, extra: { payload?: unknown } = {}): RunEvent[] {
  const base = { jobId, task: 'hello', queue: 'default' };
  return [
    { type: 'enqueued', ...base, at: T0, attempt: 0, payload: extra.payload ?? { name: jobId } },
    { type: 'active', ...base, at: T0 + 100, attempt: 1, worker: 'w1' },
    { type: 'completed', ...base, at: T0 + 250, attempt: 1, worker: 'w1', result: `hello ${jobId}`, runtimeMs: 150 },
  ];
}
function enqueuedOnly(n: number, from = 0): RunEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'enqueued' as const,
    jobId: `e${from + i}`,
    task: 'hello',
    queue: 'default',
    at: T0 + i,
    attempt: 0,
    payload: { i: from + i },
  }));
}

/** One stream entry per event (a writer packs a batch into one entry; trimming tests need many). */
async function writeEach(events: readonly RunEvent[]): Promise<void> {
  for (const e of events) await world.writer.write([e]);
}

async function lastStreamId(): Promise<string> {
  const [entry] = (await redis.xrevrange(world.key, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return entry![0];
}

/** Polls the database every 20 ms until `check` holds, or fails after the deadline. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Recorder.catchUp', () => {
  it('applies the events in the stream and advances recorder_last_id', async () => {
    await world.writer.write([...lifecycle('a'), ...lifecycle('b'), ...enqueuedOnly(3)]);
    // One write, one entry: the batch of 9 events is one JSON array.
    expect(await redis.xlen(world.key)).toBe(1);
    const rec = world.recorder();
    expect(rec.lastId).toBe('0-0');

    const result = await rec.catchUp();
    expect(result.applied).toBe(9);
    expect(world.store.runs.count()).toBe(5);
    expect(world.store.runs.get('a')).toMatchObject({
      state: 'completed',
      result: '"hello a"',
      attempt: 1,
      worker: 'w1',
      runtime_ms: 150,
      payload: '{"name":"a"}',
    });
    expect(world.store.runs.get('e2')).toMatchObject({ state: 'waiting', payload: '{"i":2}' });
    const last = await lastStreamId();
    expect(getMeta(world.store.db, 'recorder_last_id')).toBe(last);
    expect(rec.lastId).toBe(last);
    // Visible from another connection to the same file.
    const other = world.openAnother();
    expect(other.runs.get('b')?.state).toBe('completed');
  });

  it('applies nothing new on a second catchUp, then only what was added since', async () => {
    await world.writer.write(lifecycle('a'));
    const rec = world.recorder();
    expect((await rec.catchUp()).applied).toBe(3);
    const firstLast = rec.lastId;
    const updated = world.store.runs.get('a')!.updated_at;

    expect(await rec.catchUp()).toEqual({ applied: 0 });
    expect(rec.lastId).toBe(firstLast);
    expect(world.store.runs.get('a')!.updated_at).toBe(updated);

    await world.writer.write(lifecycle('b'));
    expect((await rec.catchUp()).applied).toBe(3);
    expect(world.store.runs.get('b')?.state).toBe('completed');
    expect(rec.lastId).toBe(await lastStreamId());
  });

  it('resumes from the stored id in a new process (a new Recorder on the same file)', async () => {
    await world.writer.write(lifecycle('a'));
    await world.recorder().catchUp();
    await world.writer.write(lifecycle('b'));
    const later = world.recorder({}, world.openAnother());
    expect((await later.catchUp()).applied).toBe(3);
    expect(world.store.runs.count()).toBe(2);
  });

  it('applies large backlogs in several batches', async () => {
    await world.writer.write(enqueuedOnly(250));
    const rec = world.recorder({ batchSize: 40 });
    expect((await rec.catchUp()).applied).toBe(250);
    expect(world.store.runs.count({ state: 'waiting' })).toBe(250);
    expect(rec.lastId).toBe(await lastStreamId());
  });

  it('does nothing on an empty or missing stream', async () => {
    const rec = world.recorder();
    expect(await rec.catchUp()).toEqual({ applied: 0 });
    expect(rec.lastId).toBe('0-0');
    expect(world.logger.warnings).toEqual([]);
  });

  // BUG (src/queue/run-stream.ts, info(): `maxDeleted !== '0-0' ? maxDeleted : undefined`, and
  // src/store/recorder.ts, checkGap(): the `info.maxDeletedId !== undefined ? ... : firstBefore(...)` fallback): on Redis >= 7 an untrimmed
  // stream reports max-deleted-entry-id "0-0", which info() turns into `undefined`; checkGap then
  // falls back to the pre-Redis-7 heuristic "first entry id > last applied id", which is always
  // true for a fresh database (last id 0-0). Every new database's first catchUp therefore warns
  // that the stream "was trimmed before this database existed; about 1 batches of run events never reached this
  // database" and returns missed: 1 although nothing was trimmed.
  it('reports no gap when a fresh database reads a stream that was never trimmed', async () => {
    await world.writer.write(lifecycle('a'));
    const result = await world.recorder().catchUp();
    expect(world.logger.warnings).toEqual([]);
    expect(result).toEqual({ applied: 3 });
    expect(getMeta(world.store.db, 'recorder_missed_total')).toBeUndefined();
  });
});

describe('Recorder lease', () => {
  it('lets one recorder per file write at a time', async () => {
    const a = world.recorder();
    const b = world.recorder({}, world.openAnother());
    expect(a.acquireLease()).toBe(true);
    expect(b.acquireLease()).toBe(false);
    expect(a.acquireLease()).toBe(true); // renewal by the holder

    await world.writer.write(lifecycle('x'));
    const started = Date.now();
    expect(await b.catchUp({ waitForHolderMs: 100 })).toEqual({ applied: 0 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(world.store.runs.get('x')).toBeUndefined();
    expect(b.lastId).toBe('0-0');

    a.releaseLease();
    expect(b.acquireLease()).toBe(true);
    expect(a.acquireLease()).toBe(false);
    b.releaseLease();

    expect((await b.catchUp()).applied).toBe(3);
    expect(world.store.runs.get('x')?.state).toBe('completed');
    // catchUp gives the lease back when it is done.
    expect(a.acquireLease()).toBe(true);
    a.releaseLease();
  });

  it('a recorder that gets the lease back reads rows again instead of trusting those it remembers', async () => {
    // A remembers run r as waiting; B (holding the lease meanwhile) records its end; A, back in
    // charge, meets a late `active` event of that attempt: it must see `completed` in the file
    // and leave the row alone, not move it back to active from what it remembered.
    const base = { jobId: 'r', task: 'hello', queue: 'default' };
    const a = world.recorder();
    const b = world.recorder({}, world.openAnother());
    await world.writer.write([{ type: 'enqueued', ...base, at: T0, attempt: 0, payload: {} }]);
    expect((await a.catchUp()).applied).toBe(1);
    expect(world.store.runs.get('r')?.state).toBe('waiting');
    await world.writer.write([{ type: 'completed', ...base, at: T0 + 50, attempt: 1, worker: 'w1', result: 'done', startedAt: T0 + 10 }]);
    expect((await b.catchUp()).applied).toBe(1);
    await world.writer.write([{ type: 'active', ...base, at: T0 + 10, attempt: 1, worker: 'w1' }]);
    expect((await a.catchUp()).applied).toBe(1);
    const row = world.store.runs.get('r');
    expect(row?.state).toBe('completed');
    expect(row?.result).toBe(JSON.stringify('done'));
  });

  it('lets another recorder take over a lease that expired without renewal', () => {
    const a = world.recorder({ leaseMs: 1000 });
    const b = world.recorder({ leaseMs: 1000 }, world.openAnother());
    const now = Date.now();
    expect(a.acquireLease(now)).toBe(true);
    expect(b.acquireLease(now + 999)).toBe(false);
    expect(b.acquireLease(now + 1001)).toBe(true);
    expect(a.acquireLease(now + 1002)).toBe(false);
  });

  it('a catchUp while another recorder runs waits until the holder has applied the stream', async () => {
    const holder = world.recorder();
    holder.start();
    cleanups.push(() => holder.close());
    // Once it has applied something, it holds the lease.
    await world.writer.write(lifecycle('warmup'));
    await until(() => world.store.runs.get('warmup')?.state === 'completed', 'the background recorder to apply warmup');
    await world.writer.write([...lifecycle('mine'), ...enqueuedOnly(20)]);
    const reader = world.recorder({}, world.openAnother());
    expect(await reader.catchUp({ waitForHolderMs: 10_000 })).toEqual({ applied: 0 });
    // It applied nothing itself, but returns only once the file holds its own writes.
    expect(reader.lastId).toBe(await lastStreamId());
    expect(world.store.runs.get('mine')?.state).toBe('completed');
    expect(world.store.runs.count()).toBe(22);
    await holder.close();
  });

  it('a catchUp takes over from a holder whose lease expired without release', async () => {
    const dead = world.recorder({ leaseMs: 300 });
    expect(dead.acquireLease()).toBe(true); // and never renews nor releases: a crashed process
    await world.writer.write(lifecycle('orphan'));
    const rec = world.recorder({}, world.openAnother());
    await rec.catchUp({ waitForHolderMs: 10_000 });
    expect(world.store.runs.get('orphan')?.state).toBe('completed');
    expect(rec.lastId).toBe(await lastStreamId());
  });

  it('a release by a recorder that does not hold the lease changes nothing', () => {
    const a = world.recorder();
    const b = world.recorder({}, world.openAnother());
    expect(a.acquireLease()).toBe(true);
    b.releaseLease();
    expect(b.acquireLease()).toBe(false);
    a.releaseLease();
  });
});

describe('Recorder background loop', () => {
  it('applies events written while it runs, and releases the lease on close', async () => {
    const rec = world.recorder();
    rec.start();
    cleanups.push(() => rec.close());
    try {
      await world.writer.write(lifecycle('live1'));
      await until(() => world.store.runs.get('live1')?.state === 'completed', 'live1 to be completed');

      // Events appended through the buffered path (as workers do) arrive too.
      for (const e of lifecycle('live2')) world.writer.append(e);
      await world.writer.flush();
      expect(world.writer.pending).toBe(0);
      await until(() => world.store.runs.get('live2')?.state === 'completed', 'live2 to be completed');

      // While it runs, it holds the lease: a second recorder on the file stays out.
      const other = world.recorder({}, world.openAnother());
      expect(other.acquireLease()).toBe(false);
    } finally {
      await rec.close();
    }
    expect(rec.lastId).toBe(await lastStreamId());
    expect(world.store.runs.get('live1')).toMatchObject({ result: '"hello live1"', runtime_ms: 150 });
    const next = world.recorder({}, world.openAnother());
    expect(next.acquireLease()).toBe(true);
    next.releaseLease();
  });

  it('close() resolves promptly even while the loop is blocked reading an idle stream', async () => {
    const rec = world.recorder();
    rec.start();
    await world.writer.write(lifecycle('idle'));
    await until(() => world.store.runs.get('idle')?.state === 'completed', 'idle to be completed');
    const started = Date.now();
    await rec.close();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('Recorder gap detection', () => {
  it('reports events trimmed before it saw them, once, and goes on with what is left', async () => {
    await writeEach(enqueuedOnly(50));
    const rec = world.recorder();
    expect((await rec.catchUp()).applied).toBe(50);
    world.logger.warnings.length = 0; // a first-catchUp warning is covered by its own test

    await writeEach(enqueuedOnly(500, 50));
    expect(await redis.xtrim(world.key, 'MAXLEN', 10)).toBe(540);
    expect(await redis.xlen(world.key)).toBe(10);

    const result = await rec.catchUp();
    expect(result.applied).toBe(10);
    expect(result.missed).toBeGreaterThan(0);
    expect(result.missed).toBeLessThanOrEqual(490);
    expect(world.logger.warnings).toHaveLength(1);
    expect(world.logger.warnings[0]).toMatch(/^history: the run-event stream was trimmed after \d{4}-\d\d-\d\dT/);
    expect(world.logger.warnings[0]).toContain(`about ${result.missed} batches of run events never reached this database`);
    expect(world.logger.warnings[0]).toContain('history.streamMaxLen');

    // The 10 retained events were applied; the trimmed ones never reached the file.
    expect(world.store.runs.count()).toBe(60);
    expect(world.store.runs.get('e549')?.state).toBe('waiting');
    expect(world.store.runs.get('e540')?.state).toBe('waiting');
    expect(world.store.runs.get('e539')).toBeUndefined();
    expect(world.store.runs.get('e49')?.state).toBe('waiting');
    expect(rec.lastId).toBe(await lastStreamId());
    expect(Number(getMeta(world.store.db, 'recorder_missed_total'))).toBeGreaterThanOrEqual(result.missed!);

    // The same gap is not reported again.
    const missedTotal = getMeta(world.store.db, 'recorder_missed_total');
    expect(await rec.catchUp()).toEqual({ applied: 0 });
    await writeEach(enqueuedOnly(5, 1000));
    expect(await rec.catchUp()).toEqual({ applied: 5 });
    expect(world.logger.warnings).toHaveLength(1);
    expect(getMeta(world.store.db, 'recorder_missed_total')).toBe(missedTotal);
  });

  it('estimates exactly how many events were trimmed', async () => {
    // Start from an empty stream so the first catchUp has nothing to misjudge.
    await writeEach(enqueuedOnly(1));
    const rec = world.recorder();
    await rec.catchUp();
    const missedBefore = Number(getMeta(world.store.db, 'recorder_missed_total') ?? '0');
    world.logger.warnings.length = 0;

    await writeEach(enqueuedOnly(49, 1));
    expect((await rec.catchUp()).applied).toBe(49);
    await writeEach(enqueuedOnly(500, 50));
    await redis.xtrim(world.key, 'MAXLEN', 10);
    const result = await rec.catchUp();
    // 550 added, 10 kept, 50 applied: 490 missed (the estimate also absorbs any earlier
    // spurious report, which is counted as "seen").
    expect(result.missed! + missedBefore).toBe(490);
  });

  it('reports a gap found by the background loop through the logger', async () => {
    await writeEach(enqueuedOnly(20));
    const first = world.recorder();
    await first.catchUp();
    world.logger.warnings.length = 0;
    await writeEach(enqueuedOnly(100, 20));
    await redis.xtrim(world.key, 'MAXLEN', 5);

    const rec = world.recorder({}, world.openAnother());
    rec.start();
    try {
      await until(() => world.store.runs.get('e119') !== undefined, 'the retained events to be applied');
    } finally {
      await rec.close();
    }
    expect(world.logger.warnings.filter((w) => w.includes('was trimmed'))).toHaveLength(1);
    expect(world.store.runs.count()).toBe(25);
  });
});

describe('Recorder and malformed entries', () => {
  it('skips entries that are not tq run events and keeps going', async () => {
    await world.writer.write(lifecycle('before'));
    await redis.xadd(world.key, '*', 'e', 'not json');
    await redis.xadd(world.key, '*', 'other', 'field');
    await redis.xadd(world.key, '*', 'e', '{"type":"completed"}');
    await redis.xadd(world.key, '*', 'e', 'null');
    await redis.xadd(world.key, '*', 'e', '"a string"');
    await redis.xadd(world.key, '*', 'e', '');
    await world.writer.write(lifecycle('after'));

    const rec = world.recorder();
    const result = await rec.catchUp();
    // The 6 events of the two good entries; the 6 entries in between are skipped.
    expect(result.applied).toBe(6);
    expect(world.store.runs.count()).toBe(2);
    expect(world.store.runs.get('before')?.state).toBe('completed');
    expect(world.store.runs.get('after')?.state).toBe('completed');
    expect(rec.lastId).toBe(await lastStreamId());
  });

  it('the background loop skips them too', async () => {
    const rec = world.recorder();
    rec.start();
    cleanups.push(() => rec.close());
    await redis.xadd(world.key, '*', 'e', '{{{');
    await world.writer.write(lifecycle('ok'));
    await until(() => world.store.runs.get('ok')?.state === 'completed', 'ok to be completed');
    await rec.close();
    // No failure was reported (a spurious gap warning is a separate bug, tested above).
    expect(world.logger.warnings.filter((w) => !w.includes('was trimmed'))).toEqual([]);
    expect(world.store.runs.count()).toBe(1);
    expect(rec.lastId).toBe(await lastStreamId());
  });

  // BUG (src/queue/run-stream.ts, parseEvent()): it only checks that `jobId` and `type` are
  // strings. An entry such as {"jobId":"x","type":"completed"} (no task/queue) passes, then the
  // upsert fails with "NOT NULL constraint failed: task_runs.task"; the whole batch rolls back and
  // the last id never advances, so every later event (from every worker) is stuck behind this one
  // entry forever: catchUp throws on every call and the background loop retries it for ever.
  // Suggested fix: validate the event shape in parseEvent (type in the known RunEventType set,
  // task/queue non-empty strings, at/attempt finite numbers) and return null otherwise, or have
  // Recorder.step skip (and log once) events that fail to apply.
  it('a run-event-shaped entry missing required fields does not block later events', async () => {
    await redis.xadd(world.key, '*', 'e', JSON.stringify({ jobId: 'broken', type: 'completed' }));
    await world.writer.write(lifecycle('later'));
    const rec = world.recorder();
    await rec.catchUp();
    expect(world.store.runs.get('later')?.state).toBe('completed');
  });
});

describe('Recorder options', () => {
  it('masks history.redact keys in stored payloads', async () => {
    await world.writer.write(lifecycle('secret', { payload: { user: 'ann', password: 'hunter2', auth: { Token: 'abc123' } } }));
    const rec = world.recorder({ redactKeys: ['password', 'token'] });
    await rec.catchUp();
    const row = world.store.runs.get('secret')!;
    expect(JSON.parse(row.payload!)).toEqual({ user: 'ann', password: '[redacted]', auth: { Token: '[redacted]' } });
    const all = JSON.stringify(world.store.db.prepare('SELECT * FROM task_runs').all());
    expect(all).not.toMatch(/hunter2|abc123/);
    // The stream itself still has the event as written (redaction is a history concern).
    expect(JSON.stringify(await redis.xrange(world.key, '-', '+'))).toContain('hunter2');
  });

  it('prunes finished runs older than keepMs on catchUp', async () => {
    const old = Date.now() - 10 * 86_400_000;
    const base = { task: 'hello', queue: 'default' };
    await world.writer.write([
      { type: 'enqueued', jobId: 'old', ...base, at: old, attempt: 0 },
      { type: 'completed', jobId: 'old', ...base, at: old + 10, attempt: 1, result: 1 },
      { type: 'enqueued', jobId: 'old-waiting', ...base, at: old, attempt: 0 },
      ...lifecycle('fresh'),
    ]);
    await world.recorder({ keepMs: 86_400_000 }).catchUp();
    expect(world.store.runs.get('old')).toBeUndefined();
    expect(world.store.runs.get('old-waiting')?.state).toBe('waiting');
    expect(world.store.runs.get('fresh')?.state).toBe('completed');
  });
});
