import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueryError, UsageError } from '../../src/core/errors.js';
import { parseQuery } from '../../src/core/query.js';
import type { RunEvent } from '../../src/core/run-events.js';
import { HistoryQueries, openStore, pruneInChunks, type Store } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import type { SearchOptions } from '../../src/store/search.js';

const dirs: string[] = [];
function tmpFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-search-'));
  dirs.push(dir);
  return path.join(dir, 'tq.db');
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const NOW = new Date(T0 + 10 * 86_400_000);
const q = (text: string) => parseQuery(text, NOW);

interface RunSpec {
  id: string;
  task?: string;
  queue?: string;
  payload?: unknown;
  end?: 'completed' | 'failed' | 'cancelled' | 'retrying' | 'active' | 'waiting';
  error?: string;
  result?: unknown;
  worker?: string;
  logs?: string[];
  /** Minutes after T0 it was enqueued. */
  at?: number;
  runtimeMs?: number;
}

function eventsOf(r: RunSpec): RunEvent[] {
  const task = r.task ?? 'resize';
  const queue = r.queue ?? 'images';
  const at = T0 + (r.at ?? 0) * 60_000;
  const base = { jobId: r.id, task, queue };
  const events: RunEvent[] = [{ type: 'enqueued', ...base, at, attempt: 0, payload: r.payload ?? {} }];
  const end = r.end ?? 'completed';
  if (end === 'waiting') return events;
  events.push({ type: 'active', ...base, at: at + 10, attempt: 1, worker: r.worker ?? 'host1.100' });
  for (const line of r.logs ?? []) events.push({ type: 'log', ...base, at: at + 20, attempt: 1, log: line });
  if (end === 'active') return events;
  const runtimeMs = r.runtimeMs ?? 100;
  if (end === 'completed')
    events.push({ type: 'completed', ...base, at: at + 10 + runtimeMs, attempt: 1, result: r.result ?? null, runtimeMs });
  else
    events.push({
      type: end,
      ...base,
      at: at + 10 + runtimeMs,
      attempt: 1,
      error: r.error ?? 'boom',
      runtimeMs,
      ...(end === 'retrying' ? { dueAt: at + 99_999 } : {}),
    });
  return events;
}

const RUNS: RunSpec[] = [
  { id: 'a-001', payload: { user: 42, file: 'cat.jpg' }, result: { width: 100 }, at: 1 },
  {
    id: 'a-002',
    payload: { user: 7, file: 'dog.png' },
    end: 'failed',
    error: 'Input buffer has corrupt header: premature end of JPEG',
    at: 2,
  },
  { id: 'a-003', payload: { user: '42', file: 'bird.webp' }, end: 'failed', error: 'timed out after 30s', at: 3, worker: 'host2.200' },
  {
    id: 'b-001',
    task: 'email',
    queue: 'mail',
    payload: { to: 'ann@example.com', user: { id: 9 } },
    at: 4,
    logs: ['sending to smtp relay', 'accepted'],
  },
  { id: 'b-002', task: 'email', queue: 'mail', payload: { to: 'bob@example.com' }, end: 'cancelled', at: 5 },
  { id: 'b-003', task: 'email', queue: 'mail', payload: { to: 'éloïse@example.com' }, end: 'active', at: 6 },
  { id: 'c-001', task: 'report', queue: 'default', payload: { month: '2026-10' }, end: 'waiting', at: 7 },
  {
    id: 'c-002',
    task: 'report',
    queue: 'default',
    payload: { month: '2026-11' },
    end: 'retrying',
    error: 'database is locked',
    at: 8,
    runtimeMs: 900,
  },
];

let store: Store;
let history: HistoryQueries;
beforeEach(() => {
  store = openStore(tmpFile());
  history = new HistoryQueries(store.db);
  store.runs.apply(RUNS.flatMap(eventsOf));
});
afterEach(() => store.close());

const ids = (text: string, options: SearchOptions = {}) =>
  history
    .search(q(text), options)
    .rows.map((r) => r.job_id)
    .sort();

describe('searchRuns: every key of the query language', () => {
  it.each([
    ['', RUNS.map((r) => r.id)],
    ['state:failed', ['a-002', 'a-003']],
    ['state:failed,cancelled', ['a-002', 'a-003', 'b-002']],
    ['state:failed state:cancelled', ['a-002', 'a-003', 'b-002']],
    ['task:email', ['b-001', 'b-002', 'b-003']],
    ['task:email state:cancelled', ['b-002']],
    ['queue:default', ['c-001', 'c-002']],
    ['worker:host2', ['a-003']],
    ['id:a-00', ['a-001', 'a-002', 'a-003']],
    ['id:b-002,c', ['b-002', 'c-001', 'c-002']],
    ['error:"premature end"', ['a-002']],
    ['error:premature,locked', ['a-002', 'c-002']],
    ['error:"end premature"', []],
    ['payload.user:42', ['a-001', 'a-003']],
    ['payload.user.id:9', ['b-001']],
    ['payload.file:dog.png', ['a-002']],
    ['payload.user:42 state:failed', ['a-003']],
    ['corrupt', ['a-002']],
    ['CORRUPT header', ['a-002']],
    ['"corrupt header"', ['a-002']],
    ['"header corrupt"', []],
    ['jpe', ['a-002']],
    ['jpg', ['a-001']],
    ['jp', []],
    ['smtp', ['b-001']],
    ['eloise', ['b-003']],
    ['width', ['a-001']],
    ['email', ['b-001', 'b-002', 'b-003']],
    ['a-002', ['a-002']],
    ['since:2026-11-01T12:05:00Z', ['b-002', 'b-003', 'c-001', 'c-002']],
    ['until:2026-11-01T12:02:00Z', ['a-001']],
    ['since:2026-11-01T12:02:00Z until:2026-11-01T12:04:00Z', ['a-002', 'a-003']],
  ])('%s', (text, expected) => {
    expect(ids(text)).toEqual([...expected].sort());
  });

  it('a query that is only punctuation cannot be searched: one QueryError', () => {
    expect(() => history.search(q('"--"'))).toThrow(QueryError);
  });

  it('text that looks like FTS syntax is taken as text, not as operators', () => {
    for (const text of ['"NEAR(a b)"', 'OR', 'AND', 'NOT', '"task:resize"', '"a*"', '"^x"'])
      expect(() => history.search(q(text))).not.toThrow();
  });
});

describe('searchRuns: keyset paging', () => {
  const walk = (text: string, options: SearchOptions) => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = history.search(q(text), { ...options, ...(cursor ? { cursor } : {}) });
      seen.push(...page.rows.map((r) => r.job_id));
      if (!page.nextCursor) return seen;
      cursor = page.nextCursor;
    }
    throw new Error('paging did not end');
  };

  it.each([
    ['enqueued', 'desc', ['c-002', 'c-001', 'b-003', 'b-002', 'b-001', 'a-003', 'a-002', 'a-001']],
    ['enqueued', 'asc', ['a-001', 'a-002', 'a-003', 'b-001', 'b-002', 'b-003', 'c-001', 'c-002']],
    // Runs not finished (no finished_at, no runtime) come last either way.
    ['finished', 'desc', ['b-002', 'b-001', 'a-003', 'a-002', 'a-001', 'c-002', 'c-001', 'b-003']],
    ['runtime', 'desc', ['b-002', 'b-001', 'a-003', 'a-002', 'a-001', 'c-002', 'c-001', 'b-003']],
  ] as const)('sort %s %s: every run once, in order, at every page size', (sort, order, expected) => {
    for (const limit of [1, 2, 3, 7, 8, 50]) {
      const seen = walk('', { sort, order, limit });
      if (sort === 'runtime') {
        // Equal runtimes (100 ms) tie-break by rowid: compare the grouping, not the order within.
        expect(seen.slice(5).sort()).toEqual(['b-003', 'c-001', 'c-002']);
        expect(seen).toHaveLength(8);
        expect(new Set(seen).size).toBe(8);
      } else {
        expect(seen).toEqual(expected);
      }
    }
  });

  it('paging through a filtered list, with the total counted once', () => {
    const first = history.search(q('task:resize,email'), { limit: 2 });
    expect(first.total).toBe(6);
    expect(first.totalExact).toBe(true);
    expect(walk('task:resize,email', { limit: 2 })).toEqual(['b-003', 'b-002', 'b-001', 'a-003', 'a-002', 'a-001']);
    const text = history.search(q('example'), { limit: 1, countUpTo: 2 });
    expect(text).toMatchObject({ total: 2, totalExact: false });
    expect(history.search(q('example'), { limit: 1 })).toMatchObject({ total: 3, totalExact: true });
  });

  it('a run arriving between pages neither repeats nor hides a row of the next page', () => {
    const first = history.search(q(''), { limit: 3 });
    store.runs.apply(eventsOf({ id: 'z-new', at: 100 }));
    const second = history.search(q(''), { limit: 3, cursor: first.nextCursor! });
    expect(second.rows.map((r) => r.job_id)).toEqual(['b-002', 'b-001', 'a-003']);
  });

  it('refuses a cursor it did not make, or made for another sort', () => {
    const first = history.search(q(''), { limit: 1 });
    expect(() => history.search(q(''), { cursor: first.nextCursor!, sort: 'finished' })).toThrow(UsageError);
    expect(() => history.search(q(''), { cursor: 'garbage' })).toThrow(/is not one this search returned/);
    expect(() => history.search(q(''), { limit: 0 })).toThrow(UsageError);
  });
});

describe('searchRuns: words found in many runs (the index is walked, not every id read)', () => {
  it('pages through 2,600 runs with a common word in order, filters and all, the same as reading them all', () => {
    const events: RunEvent[] = [];
    for (let i = 0; i < 2600; i++) {
      // Enqueue times not in insertion order, so the walk cannot lean on rowid order.
      const at = T0 + 86_400_000 + ((i * 7919) % 2600) * 1000;
      const base = { jobId: `w-${String(i).padStart(4, '0')}`, task: 'bulk', queue: 'bulk' };
      events.push({ type: 'enqueued', ...base, at, attempt: 0, payload: { note: 'common words here', n: i } });
      if (i % 3 === 0) events.push({ type: 'failed', ...base, at: at + 5, attempt: 1, error: 'common failure' });
    }
    store.runs.apply(events);
    const expected = (filter: (n: number) => boolean) =>
      Array.from({ length: 2600 }, (_, i) => i)
        .filter(filter)
        .sort((a, b) => ((b * 7919) % 2600) - ((a * 7919) % 2600))
        .map((i) => `w-${String(i).padStart(4, '0')}`);
    const pages = (text: string, n: number) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let p = 0; p < n; p++) {
        const page = history.search(q(text), { limit: 100, ...(cursor ? { cursor } : {}) });
        seen.push(...page.rows.map((r) => r.job_id));
        cursor = page.nextCursor ?? undefined;
        if (!cursor) break;
      }
      return seen;
    };
    expect(pages('common', 5)).toEqual(expected(() => true).slice(0, 500));
    expect(pages('common here', 3)).toEqual(expected(() => true).slice(0, 300));
    expect(pages('common state:failed', 3)).toEqual(expected((i) => i % 3 === 0).slice(0, 300));
    expect(pages('words error:common', 20)).toEqual(expected((i) => i % 3 === 0));
    const first = history.search(q('common'), { limit: 10 });
    expect(first).toMatchObject({ totalExact: false });
    expect(first.rows[0]).toMatchObject({ task: 'bulk', payload: expect.stringContaining('common words here') });
  });
});

describe('the index and the counters follow the rows', () => {
  const countsMatchTable = () => {
    const table = store.db
      .prepare('SELECT queue, task, state, count(*) AS n FROM task_runs GROUP BY queue, task, state ORDER BY 1, 2, 3')
      .all();
    const counters = store.db.prepare('SELECT queue, task, state, n FROM task_run_counts WHERE n > 0 ORDER BY 1, 2, 3').all();
    expect(counters).toEqual(table);
    const c = history.counts();
    expect(c.total).toBe((store.db.prepare('SELECT count(*) AS n FROM task_runs').get() as { n: number }).n);
    const byState = Object.fromEntries(
      (store.db.prepare('SELECT state, count(*) AS n FROM task_runs GROUP BY state').all() as { state: string; n: number }[]).map((r) => [
        r.state,
        r.n,
      ]),
    );
    expect(c.byState).toEqual(byState);
  };

  it('counters equal COUNT(*) after inserts, state changes, a retry back to waiting, a reconcile to lost, deletes and pruning', () => {
    countsMatchTable();
    expect(history.counts().byTask).toEqual({ resize: 3, email: 3, report: 2 });
    expect(history.counts().byQueue).toEqual({ images: 3, mail: 3, default: 2 });
    store.runs.apply([
      { type: 'completed', jobId: 'b-003', task: 'email', queue: 'mail', at: T0 + 3_600_000, attempt: 1, result: 'sent' },
      { type: 'retried', jobId: 'a-002', task: 'resize', queue: 'images', at: T0 + 3_600_000, attempt: 1 },
    ]);
    countsMatchTable();
    // Another writer (sqlite3, the reconciler): counted at once, its text indexed at the next batch.
    store.db.prepare("UPDATE task_runs SET state = 'lost', error = 'gone from Redis' WHERE job_id = 'c-001'").run();
    countsMatchTable();
    expect(ids('error:gone')).toEqual([]);
    store.runs.apply([{ type: 'progress', jobId: 'b-003', task: 'email', queue: 'mail', at: T0 + 3_600_001, attempt: 1, progress: 50 }]);
    expect(ids('error:gone')).toEqual(['c-001']);
    store.db.prepare("DELETE FROM task_runs WHERE job_id = 'b-001'").run();
    countsMatchTable();
    expect(ids('smtp')).toEqual([]);
    const report = pruneInChunks((limit) => store.runs.pruneFinishedBefore(new Date(T0 + 86_400_000).toISOString(), limit), {
      firstChunk: 1,
    });
    expect(report).toMatchObject({ deleted: 4, done: true });
    countsMatchTable();
    expect(ids('')).toEqual(['a-002', 'c-001', 'c-002']);
    expect(ids('cat')).toEqual([]);
  });

  it('the index follows a changed error and new log lines', () => {
    expect(ids('relay')).toEqual(['b-001']);
    store.runs.apply([
      { type: 'log', jobId: 'b-003', task: 'email', queue: 'mail', at: T0 + 9_000_000, attempt: 1, log: 'bounced by relay\nretry later' },
    ]);
    expect(ids('relay')).toEqual(['b-001', 'b-003']);
    // A JSON escape does not glue its letter to the next word.
    expect(ids('retry')).toEqual(['b-003']);
    store.runs.apply([
      { type: 'failed', jobId: 'c-002', task: 'report', queue: 'default', at: T0 + 9_000_000, attempt: 2, error: 'disk full' },
    ]);
    expect(ids('error:disk')).toEqual(['c-002']);
    // Earlier attempts' errors stay searchable.
    expect(ids('error:locked')).toEqual(['c-002']);
  });

  it('a redacted payload value is not in the index: a secret cannot be found by searching for it', () => {
    store.runs.apply(
      [
        {
          type: 'enqueued',
          jobId: 'r-secret',
          task: 'login',
          queue: 'auth',
          at: T0,
          attempt: 0,
          payload: { user: 'zoe', password: 'hunter2' },
        },
      ],
      { redactKeys: ['password'] },
    );
    expect(ids('zoe')).toEqual(['r-secret']);
    expect(ids('hunter2')).toEqual([]);
    expect(ids('payload.password:hunter2')).toEqual([]);
  });

  it('totalsByState honours every term, from the counters or by counting', () => {
    expect(history.totalsByState(q('task:resize'))).toEqual({ total: 3, byState: { completed: 1, failed: 2 } });
    expect(history.totalsByState(q('state:failed payload.user:42'))).toEqual({ total: 1, byState: { failed: 1 } });
    expect(history.totalsByState(q('example'))).toEqual({ total: 3, byState: { completed: 1, cancelled: 1, active: 1 } });
  });
});

describe("recent (the monitor's list by last change) takes a query too", () => {
  it('filters with every term, free text through the index', () => {
    const recent = (text: string) => history.recent({ match: q(text), limit: 50 }).map((r) => r.job_id);
    expect(recent('corrupt')).toEqual(['a-002']);
    expect(recent('task:email state:cancelled,active')).toEqual(['b-003', 'b-002']);
    expect(recent('payload.user:42')).toEqual(['a-003', 'a-001']);
  });
});

describe('migration 5 on a database that already has history', () => {
  it('backfills the index and the counters', () => {
    const file = tmpFile();
    const db = new Database(file);
    for (const m of MIGRATIONS.filter((m) => m.version < 5)) db.exec(m.sql);
    db.pragma('user_version = 4');
    const insert = db.prepare(
      "INSERT INTO task_runs (job_id, task, queue, state, payload, error, errors, logs, updated_at) VALUES (?, ?, 'q', ?, ?, ?, ?, ?, 'x')",
    );
    insert.run('old-1', 'resize', 'failed', '{"user":42}', 'premature end', '[{"attempt":1,"error":"first try broke","at":"x"}]', null);
    insert.run('old-2', 'resize', 'completed', '{"user":1}', null, null, '["hello world"]');
    insert.run('old-3', 'email', 'completed', null, null, 'not json', null);
    db.close();
    const migrated = openStore(file);
    try {
      const h = new HistoryQueries(migrated.db);
      const found = (text: string) =>
        h
          .search(q(text))
          .rows.map((r) => r.job_id)
          .sort();
      expect(found('error:premature')).toEqual(['old-1']);
      expect(found('error:broke')).toEqual(['old-1']);
      expect(found('hello')).toEqual(['old-2']);
      expect(found('payload.user:42')).toEqual(['old-1']);
      expect(h.counts()).toEqual({
        total: 3,
        byState: { failed: 1, completed: 2 },
        byTask: { resize: 2, email: 1 },
        byQueue: { q: 3 },
      });
    } finally {
      migrated.close();
    }
  });
});

describe('pruneInChunks', () => {
  it('sizes chunks by the time they take and stops at its budget', () => {
    let t = 0;
    let left = 100_000;
    const sizes: number[] = [];
    const report = pruneInChunks(
      (limit) => {
        sizes.push(limit);
        const n = Math.min(limit, left);
        left -= n;
        t += n / 100; // 100 rows per ms
        return n;
      },
      { now: () => t, chunkMs: 40, budgetMs: 500, firstChunk: 500 },
    );
    expect(report.done).toBe(false);
    expect(report.longestMs).toBeLessThanOrEqual(40);
    expect(sizes[0]).toBe(500);
    expect(sizes[1]).toBe(750); // at most half again a step
    expect(Math.max(...sizes)).toBe(2000); // never more than 2,000 rows
    expect(t).toBeGreaterThanOrEqual(500);
    expect(t).toBeLessThan(560);
  });
});
