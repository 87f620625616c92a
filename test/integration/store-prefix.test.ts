import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/run-events.js';
import { parseQuery } from '../../src/core/query.js';
import { HistoryQueries, openReader, openStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { createTaskRunsRepository } from '../../src/store/task-runs.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-store-prefix-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmpFile = () => path.join(dir, `db${++n}.db`);

const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);
const enqueued = (jobId: string, payload: unknown, at = T0): RunEvent => ({
  type: 'enqueued',
  jobId,
  task: 'hello',
  queue: 'default',
  at,
  attempt: 0,
  payload,
});
const completed = (jobId: string, result: unknown, at = T0 + 1000): RunEvent => ({
  type: 'completed',
  jobId,
  task: 'hello',
  queue: 'default',
  at,
  attempt: 1,
  result,
  startedAt: at - 10,
  runtimeMs: 10,
});

describe('two prefixes in one file', () => {
  it('each reads only its own runs; a run id the other prefix holds is never written over, and said once', () => {
    const file = tmpFile();
    const a = openStore(file, { prefix: 'a' });
    const b = openStore(file, { prefix: 'b' });
    try {
      const collisions: [string, string][] = [];
      const writerA = createTaskRunsRepository(a.db, { prefix: 'a' });
      const writerB = createTaskRunsRepository(b.db, { prefix: 'b', onCollision: (id, other) => collisions.push([id, other]) });
      writerA.apply([enqueued('same', { by: 'a' }), completed('same', 'a done'), enqueued('only-a', {})]);
      writerB.apply([enqueued('same', { by: 'b' }), completed('same', 'b done'), enqueued('only-b', {})]);

      expect(collisions).toEqual([['same', 'a']]);
      expect(a.runs.get('same')).toMatchObject({ prefix: 'a', payload: '{"by":"a"}', result: '"a done"' });
      expect(b.runs.get('same')).toBeUndefined();
      expect(b.runs.get('only-b')).toMatchObject({ prefix: 'b' });
      expect(a.runs.get('only-b')).toBeUndefined();
      expect(a.runs.count()).toBe(2);
      expect(b.runs.count()).toBe(1);

      const historyB = new HistoryQueries(b.db, 'b');
      expect(historyB.list().map((r) => r.job_id)).toEqual(['only-b']);
      expect(historyB.totals()).toEqual({ total: 1, byState: { waiting: 1 } });
      expect(historyB.finishedSince(new Date(T0 - 60_000).toISOString())).toEqual({});
      expect(historyB.recent({ limit: 10 }).map((r) => r.job_id)).toEqual(['only-b']);
      expect(new HistoryQueries(a.db, 'a').finishedSince(new Date(T0 - 60_000).toISOString())).toEqual({ completed: 1 });
      // Search, its counters and totals are scoped too.
      expect(historyB.counts()).toEqual({ total: 1, byState: { waiting: 1 }, byTask: { hello: 1 }, byQueue: { default: 1 } });
      expect(new HistoryQueries(a.db, 'a').counts().total).toBe(2);
      expect(historyB.search(parseQuery('task:hello')).rows.map((r) => r.job_id)).toEqual(['only-b']);
      expect(historyB.search(parseQuery('done')).rows).toEqual([]);
      expect(new HistoryQueries(a.db, 'a').search(parseQuery('done')).rows.map((r) => r.job_id)).toEqual(['same']);
      expect(historyB.totalsByState(parseQuery('state:waiting'))).toEqual({ total: 1, byState: { waiting: 1 } });
      // Unscoped (raw tooling): every prefix's rows.
      expect(new HistoryQueries(a.db).totals().total).toBe(3);
      expect(new HistoryQueries(a.db).counts().total).toBe(3);

      // Retention prunes only the pruning prefix's runs.
      writerB.apply([completed('only-b', 'x', T0 + 2000)]);
      expect(writerA.pruneFinishedBefore(new Date(T0 + 60_000).toISOString())).toBe(1);
      expect(b.runs.get('only-b')?.state).toBe('completed');
    } finally {
      a.close();
      b.close();
    }
  });

  it('image records are each prefix’s own: get, list, cleanup’s olderThan, delete and count', () => {
    const file = tmpFile();
    const a = openStore(file, { prefix: 'a' });
    const b = openStore(file, { prefix: 'b' });
    try {
      a.records.images.insert({ id: 'img-a', original_path: 'original/a.png', bytes: 1, uploaded_at: '2020-01-01T00:00:00.000Z' });
      b.records.images.insert({ id: 'img-b', original_path: 'original/b.png', bytes: 1, uploaded_at: '2020-01-01T00:00:00.000Z' });
      expect(a.records.images.get('img-b')).toBeUndefined();
      expect(a.records.images.olderThan('2030-01-01T00:00:00.000Z').map((r) => r.id)).toEqual(['img-a']);
      expect(a.records.images.delete('img-b')).toBe(false);
      a.records.images.update('img-b', { status: 'failed' });
      expect(b.records.images.get('img-b')?.status).toBe('pending');
      expect(a.records.images.count()).toBe(1);
      const reader = openReader(file, 'b');
      try {
        expect(reader.images().map((r) => r.id)).toEqual(['img-b']);
        expect(reader.image('img-a')).toBeUndefined();
      } finally {
        reader.close();
      }
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('migration 4', () => {
  it('gives the rows of a file that followed one stream that stream’s prefix', () => {
    const file = tmpFile();
    const raw = new Database(file);
    for (const m of MIGRATIONS.filter((m) => m.version <= 3)) raw.exec(m.sql);
    raw.pragma('user_version = 3');
    raw.prepare("INSERT INTO meta (key, value) VALUES ('recorder_last_id:myapp', '1-0')").run();
    raw
      .prepare("INSERT INTO task_runs (job_id, task, queue, state, updated_at) VALUES ('old', 'hello', 'default', 'completed', 'x')")
      .run();
    raw.prepare("INSERT INTO images (id, original_path, uploaded_at) VALUES ('img', 'original/x.png', 'x')").run();
    raw.close();
    const store = openStore(file, { prefix: 'myapp' });
    try {
      expect(store.runs.get('old')).toMatchObject({ prefix: 'myapp' });
      expect(store.records.images.get('img')).toMatchObject({ id: 'img' });
    } finally {
      store.close();
    }
  });
});
