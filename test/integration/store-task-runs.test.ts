import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import type { RunEvent } from '../../src/core/run-events.js';
import { openStore, type Store } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import type { AttemptError, TaskRunRow } from '../../src/store/task-runs.js';

const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;
const dirs: string[] = [];
function tmpFile(name = 'tq.db'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-store-'));
  dirs.push(dir);
  return path.join(dir, name);
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function storeError(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).exitCode).toBe(1);
    expect((err as StoreError).code).toBe('E_STORE');
    return err as StoreError;
  }
  throw new Error('expected a StoreError, the file opened');
}

/** A row without `updated_at`, which records when it was last written, not what is known. */
function facts(row: TaskRunRow | undefined): Omit<TaskRunRow, 'updated_at'> {
  expect(row).toBeDefined();
  const { updated_at: _ignored, ...rest } = row!;
  return rest;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

describe('openStore: schema', () => {
  it('creates images and task_runs with the documented columns, WAL and the latest user_version', () => {
    const file = tmpFile();
    const store = openStore(file);
    try {
      const columns = (table: string) => (store.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
      // The documented names are a public surface (users query them); more columns are allowed.
      expect(columns('images')).toEqual(
        expect.arrayContaining([
          'id',
          'original_path',
          'resized_path',
          'width',
          'height',
          'resized_width',
          'resized_height',
          'bytes',
          'resized_bytes',
          'status',
          'error',
          'uploaded_at',
          'processed_at',
        ]),
      );
      expect(columns('task_runs')).toEqual(
        expect.arrayContaining([
          'job_id',
          'task',
          'queue',
          'payload',
          'state',
          'result',
          'error',
          'attempt',
          'worker',
          'enqueued_at',
          'started_at',
          'finished_at',
          'runtime_ms',
        ]),
      );
      const pk = (store.db.prepare('PRAGMA table_info(task_runs)').all() as { name: string; pk: number }[]).filter((c) => c.pk > 0);
      expect(pk.map((c) => c.name)).toEqual(['job_id']);
      expect(String(store.db.pragma('journal_mode', { simple: true })).toLowerCase()).toBe('wal');
      expect(store.db.pragma('user_version', { simple: true })).toBe(LATEST);
      expect(Number(store.db.pragma('busy_timeout', { simple: true }))).toBeGreaterThan(0);
    } finally {
      store.close();
    }
    // Seen from an independent connection: the file itself is WAL and versioned.
    const raw = new Database(file, { readonly: true });
    try {
      expect(String(raw.pragma('journal_mode', { simple: true })).toLowerCase()).toBe('wal');
      expect(raw.pragma('user_version', { simple: true })).toBe(LATEST);
    } finally {
      raw.close();
    }
  });

  it('creates missing parent directories', () => {
    const file = path.join(path.dirname(tmpFile()), 'a', 'b', '.tq', 'tq.db');
    const store = openStore(file);
    store.close();
    expect(fs.existsSync(file)).toBe(true);
  });

  it('opens the same file twice (at once and again later) and keeps the data', () => {
    const file = tmpFile();
    const a = openStore(file);
    const b = openStore(file);
    try {
      a.runs.apply([{ type: 'enqueued', jobId: 'j1', task: 't', queue: 'q', at: T0, attempt: 0, payload: { n: 1 } }]);
      expect(b.runs.get('j1')?.state).toBe('waiting');
      expect(b.db.pragma('user_version', { simple: true })).toBe(LATEST);
    } finally {
      a.close();
      b.close();
    }
    const again = openStore(file);
    try {
      expect(again.runs.get('j1')?.payload).toBe('{"n":1}');
      expect(again.runs.count()).toBe(1);
    } finally {
      again.close();
    }
  });

  it('refuses a file with a newer schema version, saying so', () => {
    const file = tmpFile();
    openStore(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST + 5}`);
    raw.close();
    const err = storeError(() => openStore(file));
    expect(err.message).toBe(`the database has schema version ${LATEST + 5}, newer than this tq understands (${LATEST})`);
    expect(err.hint).toMatch(/upgrade tq|another --db/);
  });

  it('refuses a corrupt file with a clear message naming the file', () => {
    const file = tmpFile();
    fs.writeFileSync(file, randomBytes(8192));
    const err = storeError(() => openStore(file));
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/^cannot (open|use) the database /);
    expect(err.message).toMatch(/not a database|file is not a database|malformed|corrupt/i);
    expect(err.message).not.toContain('\n');
  });

  it('refuses a text file that is not a database', () => {
    const file = tmpFile('notes.txt');
    fs.writeFileSync(file, 'hello, this is not sqlite\n'.repeat(200));
    const err = storeError(() => openStore(file));
    expect(err.message).toContain(file);
  });
});

describe('task runs: apply', () => {
  let store: Store;
  beforeEach(() => {
    store = openStore(tmpFile());
  });
  afterEach(() => store.close());

  const base = { task: 'resize', queue: 'images' };
  const enqueued = (jobId: string, extra: Partial<RunEvent> = {}): RunEvent => ({
    type: 'enqueued',
    jobId,
    ...base,
    at: T0,
    attempt: 0,
    payload: { recordId: 'r1', path: 'a.jpg' },
    ...extra,
  });
  const active = (jobId: string, attempt = 1, extra: Partial<RunEvent> = {}): RunEvent => ({
    type: 'active',
    jobId,
    ...base,
    at: T0 + 1000 * attempt,
    attempt,
    worker: 'w1',
    ...extra,
  });
  const completed = (jobId: string, extra: Partial<RunEvent> = {}): RunEvent => ({
    type: 'completed',
    jobId,
    ...base,
    at: T0 + 1500,
    attempt: 1,
    worker: 'w1',
    result: { width: 800, height: 600 },
    runtimeMs: 500,
    ...extra,
  });

  it("a tq worker's final end closes a run that BullMQ's stream numbered a later execution (a worker was killed): never active for good", () => {
    // Attempt 1 ran on a worker that was killed; BullMQ's stream saw the run started again and
    // history counted that start as attempt 2; the next worker's gate failed the run (attempt 1).
    store.runs.apply([enqueued('k1'), active('k1', 1)]);
    store.runs.apply([{ type: 'requeued', jobId: 'k1', ...base, at: T0 + 1200, attempt: 1, observed: { prev: 'active' } }]);
    store.runs.apply([{ type: 'active', jobId: 'k1', ...base, at: T0 + 1300, attempt: 0, observed: {} }]);
    expect(store.runs.get('k1')).toMatchObject({ state: 'active', attempt: 2 });
    store.runs.apply([
      { type: 'failed', jobId: 'k1', ...base, at: T0 + 1400, attempt: 1, worker: 'w2', error: 'ended their worker 2 times' },
    ]);
    expect(store.runs.get('k1')).toMatchObject({ state: 'failed', error: 'ended their worker 2 times' });
  });

  it('stores an enqueued run as waiting, with its payload JSON and enqueued_at', () => {
    expect(store.runs.apply([enqueued('j1')])).toBe(1);
    const row = store.runs.get('j1')!;
    expect(row).toMatchObject({
      job_id: 'j1',
      task: 'resize',
      queue: 'images',
      state: 'waiting',
      attempt: 0,
      payload: '{"recordId":"r1","path":"a.jpg"}',
      enqueued_at: iso(T0),
      started_at: null,
      finished_at: null,
      result: null,
      error: null,
      runtime_ms: null,
    });
    expect(JSON.parse(row.payload!)).toEqual({ recordId: 'r1', path: 'a.jpg' });
  });

  it('stores a run enqueued with a due time in the future as delayed, and one due now as waiting', () => {
    store.runs.apply([enqueued('later', { dueAt: T0 + 60_000 }), enqueued('now', { dueAt: T0 })]);
    expect(store.runs.get('later')).toMatchObject({ state: 'delayed', due_at: iso(T0 + 60_000), enqueued_at: iso(T0) });
    expect(store.runs.get('now')?.state).toBe('waiting');
  });

  it('records a full lifecycle: completed with result, runtime, worker and attempt 1', () => {
    store.runs.apply([enqueued('j1'), active('j1'), completed('j1')]);
    const row = store.runs.get('j1')!;
    expect(facts(row)).toMatchObject({
      job_id: 'j1',
      task: 'resize',
      queue: 'images',
      payload: '{"recordId":"r1","path":"a.jpg"}',
      state: 'completed',
      result: '{"width":800,"height":600}',
      error: null,
      attempt: 1,
      worker: 'w1',
      enqueued_at: iso(T0),
      started_at: iso(T0 + 1000),
      finished_at: iso(T0 + 1500),
      runtime_ms: 500,
      errors: null,
      stack: null,
      due_at: null,
      progress: null,
    });
    expect(JSON.parse(row.result!)).toEqual({ width: 800, height: 600 });
    expect(store.runs.count({ state: 'completed' })).toBe(1);
    expect(store.runs.count({ task: 'resize' })).toBe(1);
    expect(store.runs.count({ state: 'waiting' })).toBe(0);
  });

  it('stores a null result for a handler that returned nothing', () => {
    store.runs.apply([enqueued('j1'), active('j1'), completed('j1', { result: undefined })]);
    expect(store.runs.get('j1')).toMatchObject({ state: 'completed', result: 'null' });
  });

  it('applies events the same way whether they come in one batch or one by one', () => {
    const events = [enqueued('j1'), active('j1'), completed('j1')];
    store.runs.apply(events);
    for (const e of events) store.runs.apply([{ ...e, jobId: 'j2' }]);
    expect({ ...facts(store.runs.get('j2')), job_id: 'j1' }).toEqual(facts(store.runs.get('j1')));
  });

  describe('out-of-order arrival', () => {
    const order = ['enqueued', 'active', 'completed'] as const;
    const byName = (jobId: string) => ({ enqueued: enqueued(jobId), active: active(jobId), completed: completed(jobId) });
    const expected = () => {
      store.runs.apply([enqueued('ref'), active('ref'), completed('ref')]);
      return { ...facts(store.runs.get('ref')), job_id: 'X' };
    };

    for (const perm of permutations(order)) {
      const test = it;
      test(`${perm.join(' -> ')} (one batch) ends with the same row as in order`, () => {
        const events = byName('p');
        store.runs.apply(perm.map((n) => events[n]));
        expect({ ...facts(store.runs.get('p')), job_id: 'X' }).toEqual(expected());
      });
      test(`${perm.join(' -> ')} (separate batches) ends with the same row as in order`, () => {
        const events = byName('p');
        for (const n of perm) store.runs.apply([events[n]]);
        expect({ ...facts(store.runs.get('p')), job_id: 'X' }).toEqual(expected());
      });
    }

    it('never lets a late active overwrite completed, in any order', () => {
      for (const [i, perm] of permutations(order).entries()) {
        const events = byName(`s${i}`);
        for (const n of perm) store.runs.apply([events[n]]);
        const row = store.runs.get(`s${i}`)!;
        expect(row.state, perm.join(',')).toBe('completed');
        expect(row.attempt).toBe(1);
        expect(row.result).toBe('{"width":800,"height":600}');
        expect(row.payload).toBe('{"recordId":"r1","path":"a.jpg"}');
        expect(row.enqueued_at).toBe(iso(T0));
        expect(row.finished_at).toBe(iso(T0 + 1500));
        expect(row.runtime_ms).toBe(500);
        expect(row.worker).toBe('w1');
      }
    });

    // BUG (src/store/task-runs.ts, merge(): `if (row && !handedBack && !supersedes(...)) return next`
    // before `if (state === 'active') next.started_at = ...`): started_at is only written when the `active`
    // event supersedes the row's state. When `active` arrives after `completed` (two workers'
    // pipelines, or a batch split across recorder steps) the event is dropped entirely, so
    // started_at stays NULL forever although the start time is a fact that does not depend
    // on ordering (like payload and enqueued_at, which are filled in whenever they arrive).
    it('fills started_at from an active event that arrives after completed', () => {
      store.runs.apply([enqueued('late'), completed('late'), active('late')]);
      expect(store.runs.get('late')!.started_at).toBe(iso(T0 + 1000));
    });

    it('keeps a late waiting from overwriting active', () => {
      store.runs.apply([active('a1'), enqueued('a1')]);
      expect(store.runs.get('a1')).toMatchObject({
        state: 'active',
        attempt: 1,
        enqueued_at: iso(T0),
        started_at: iso(T0 + 1000),
        payload: '{"recordId":"r1","path":"a.jpg"}',
      });
    });
  });

  it('is idempotent: applying the same batch twice changes nothing', () => {
    const batch: RunEvent[] = [
      enqueued('a'),
      active('a'),
      { type: 'retrying', jobId: 'a', ...base, at: T0 + 1200, attempt: 1, worker: 'w1', error: 'A', dueAt: T0 + 5000 },
      active('a', 2, { worker: 'w2' }),
      enqueued('b', { dueAt: T0 + 60_000 }),
      enqueued('c'),
      active('c'),
      completed('c'),
    ];
    store.runs.apply(batch);
    const first = ['a', 'b', 'c'].map((id) => facts(store.runs.get(id)));
    store.runs.apply(batch);
    expect(['a', 'b', 'c'].map((id) => facts(store.runs.get(id)))).toEqual(first);
    expect(store.runs.count()).toBe(3);
    expect(first[0]).toMatchObject({ state: 'active', attempt: 2, worker: 'w2', error: 'A' });
    expect(first[1]).toMatchObject({ state: 'delayed' });
    expect(first[2]).toMatchObject({ state: 'completed' });
  });

  it('keeps every attempt error: retrying(1, A) -> active(2) -> failed(2, B)', () => {
    store.runs.apply([
      enqueued('r'),
      active('r'),
      {
        type: 'retrying',
        jobId: 'r',
        ...base,
        at: T0 + 1100,
        attempt: 1,
        worker: 'w1',
        error: 'A',
        stack: 'Error: A\n  at x',
        dueAt: T0 + 3000,
      },
    ]);
    expect(store.runs.get('r')).toMatchObject({
      state: 'retrying',
      attempt: 1,
      error: 'A',
      stack: 'Error: A\n  at x',
      due_at: iso(T0 + 3000),
    });
    store.runs.apply([active('r', 2, { worker: 'w2' })]);
    expect(store.runs.get('r')).toMatchObject({ state: 'active', attempt: 2, worker: 'w2', started_at: iso(T0 + 2000), due_at: null });
    store.runs.apply([{ type: 'failed', jobId: 'r', ...base, at: T0 + 2500, attempt: 2, worker: 'w2', error: 'B', runtimeMs: 480 }]);
    const row = store.runs.get('r')!;
    expect(row).toMatchObject({
      state: 'failed',
      attempt: 2,
      error: 'B',
      worker: 'w2',
      finished_at: iso(T0 + 2500),
      runtime_ms: 480,
      result: null,
    });
    const errors = JSON.parse(row.errors!) as AttemptError[];
    expect(errors).toEqual([
      { attempt: 1, error: 'A', at: iso(T0 + 1100) },
      { attempt: 2, error: 'B', at: iso(T0 + 2500) },
    ]);
  });

  it('keeps the earlier error when it arrives after the final failure', () => {
    store.runs.apply([
      { type: 'failed', jobId: 'r', ...base, at: T0 + 2500, attempt: 2, worker: 'w2', error: 'B' },
      { type: 'retrying', jobId: 'r', ...base, at: T0 + 1100, attempt: 1, worker: 'w1', error: 'A' },
      active('r', 2),
    ]);
    const row = store.runs.get('r')!;
    expect(row).toMatchObject({ state: 'failed', attempt: 2, error: 'B' });
    expect((JSON.parse(row.errors!) as AttemptError[]).map((e) => [e.attempt, e.error])).toEqual([
      [1, 'A'],
      [2, 'B'],
    ]);
  });

  it('moves an active run back to waiting on requeued, for the same attempt only', () => {
    store.runs.apply([enqueued('q'), active('q')]);
    store.runs.apply([{ type: 'requeued', jobId: 'q', ...base, at: T0 + 1300, attempt: 1, worker: 'w1' }]);
    expect(store.runs.get('q')).toMatchObject({ state: 'waiting', attempt: 1, started_at: null, finished_at: null });

    // A requeue of an earlier attempt does not undo the current one.
    store.runs.apply([enqueued('q2'), active('q2'), active('q2', 2, { worker: 'w2' })]);
    store.runs.apply([{ type: 'requeued', jobId: 'q2', ...base, at: T0 + 2100, attempt: 1, worker: 'w1' }]);
    expect(store.runs.get('q2')).toMatchObject({ state: 'active', attempt: 2, worker: 'w2', started_at: iso(T0 + 2000) });

    // Nor does it reopen a finished run.
    store.runs.apply([enqueued('q3'), active('q3'), completed('q3')]);
    store.runs.apply([{ type: 'requeued', jobId: 'q3', ...base, at: T0 + 1600, attempt: 1, worker: 'w1' }]);
    expect(store.runs.get('q3')).toMatchObject({ state: 'completed', finished_at: iso(T0 + 1500) });

    // After the hand-back the next attempt runs normally.
    store.runs.apply([active('q', 2, { worker: 'w3' }), completed('q', { attempt: 2, worker: 'w3', at: T0 + 2400 })]);
    expect(store.runs.get('q')).toMatchObject({
      state: 'completed',
      attempt: 2,
      worker: 'w3',
      started_at: iso(T0 + 2000),
      finished_at: iso(T0 + 2400),
    });
  });

  it('masks redacted payload keys (any depth, any case) before storing', () => {
    store.runs.apply([enqueued('s', { payload: { user: 'ann', Password: 'hunter2', nested: [{ token: 'abc', keep: 1 }] } })], {
      redactKeys: ['password', 'TOKEN'],
    });
    const row = store.runs.get('s')!;
    expect(JSON.parse(row.payload!)).toEqual({ user: 'ann', Password: '[redacted]', nested: [{ token: '[redacted]', keep: 1 }] });
    const raw = store.db.prepare('SELECT payload FROM task_runs WHERE job_id = ?').get('s') as { payload: string };
    expect(raw.payload).not.toMatch(/hunter2|abc/);
  });

  it('stores final states cancelled and expired with finished_at', () => {
    store.runs.apply([
      enqueued('c1'),
      { type: 'cancelled', jobId: 'c1', ...base, at: T0 + 10, attempt: 0 },
      enqueued('e1'),
      { type: 'expired', jobId: 'e1', ...base, at: T0 + 20, attempt: 0 },
      active('e1'),
    ]);
    expect(store.runs.get('c1')).toMatchObject({ state: 'cancelled', finished_at: iso(T0 + 10) });
    expect(store.runs.get('e1')).toMatchObject({ state: 'expired', finished_at: iso(T0 + 20) });
  });

  it('prunes only finished runs that finished before the cutoff', () => {
    const DAY = 86_400_000;
    const old = T0 - 40 * DAY;
    store.runs.apply([
      enqueued('old-done', { at: old }),
      active('old-done', 1, { at: old + 1 }),
      completed('old-done', { at: old + 2 }),
      enqueued('old-failed', { at: old }),
      { type: 'failed', jobId: 'old-failed', ...base, at: old + 5, attempt: 1, error: 'x' },
      enqueued('old-cancelled', { at: old }),
      { type: 'cancelled', jobId: 'old-cancelled', ...base, at: old + 6, attempt: 0 },
      enqueued('old-waiting', { at: old }),
      enqueued('old-active', { at: old }),
      active('old-active', 1, { at: old + 1 }),
      enqueued('old-retrying', { at: old }),
      { type: 'retrying', jobId: 'old-retrying', ...base, at: old + 3, attempt: 1, error: 'y', dueAt: old + 9 },
      enqueued('new-done'),
      active('new-done'),
      completed('new-done'),
    ]);
    const cutoff = iso(T0 - 30 * DAY);
    expect(store.runs.pruneFinishedBefore(cutoff)).toBe(3);
    const left = (store.db.prepare('SELECT job_id FROM task_runs ORDER BY job_id').all() as { job_id: string }[]).map((r) => r.job_id);
    expect(left).toEqual(['new-done', 'old-active', 'old-retrying', 'old-waiting']);
    expect(store.runs.pruneFinishedBefore(cutoff)).toBe(0);
  });
});
