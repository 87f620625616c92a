import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/run-events.js';
import type { QueueStats, WorkerStatus } from '../../src/queue/index.js';
import { QueryError } from '../../src/core/errors.js';
import { matchesFilter, NO_FILTER, parseFilter, queueFilter } from '../../src/monitor/filter.js';
import { reduce, finishedRate } from '../../src/monitor/reduce.js';
import {
  HEAD_CAP,
  initialState,
  OFFLINE_LINGER_MS,
  visibleRuns,
  type MonitorState,
  type RunDetailData,
  type RunRow,
} from '../../src/monitor/state.js';
import { advance, cursorAtEnd, findGap } from '../../src/monitor/stream-cursor.js';
import { queueFlags } from '../../src/monitor/workers.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

function fresh(): MonitorState {
  return initialState({ redisUrl: 'redis://h:6379', prefix: 'tq', intervalMs: 1000, now: T0, columns: 100, rows: 30 });
}

type Extra = Partial<RunEvent>;
const ev = (type: RunEvent['type'], jobId: string, at: number, extra: Extra = {}): RunEvent => ({
  type,
  jobId,
  task: 'hello',
  queue: 'default',
  at,
  attempt: type === 'enqueued' ? 0 : 1,
  ...extra,
});

const apply = (state: MonitorState, ...events: RunEvent[]) => reduce(state, { type: 'events', events, now: state.now + 1000 });
const ids = (state: MonitorState) => visibleRuns(state).map((r) => `${r.id}:${r.state}`);

function queue(name: string, extra: Partial<QueueStats> = {}): QueueStats {
  return {
    name,
    waiting: 0,
    active: 0,
    delayed: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    expired: 0,
    paused: false,
    oldestWaitingMs: undefined,
    consumers: 0,
    ...extra,
  };
}

function worker(name: string, extra: Partial<WorkerStatus> = {}): WorkerStatus {
  return {
    name,
    host: 'h',
    pid: 1,
    queues: ['default'],
    concurrency: 1,
    active: [],
    processed: 0,
    failed: 0,
    zombies: 0,
    startedAt: T0,
    lastFetchAt: T0,
    rssBytes: 1e8,
    version: '0.1.0',
    at: T0,
    heartbeatAgeMs: 0,
    stuck: false,
    ...extra,
  };
}

describe('monitor state: runs from run events', () => {
  it('lists runs newest change first and moves a run to the top when it changes', () => {
    let s = apply(fresh(), ev('enqueued', 'a', T0 + 1), ev('enqueued', 'b', T0 + 2));
    expect(ids(s)).toEqual(['b:waiting', 'a:waiting']);
    s = apply(s, ev('active', 'a', T0 + 3, { worker: 'w1' }));
    expect(ids(s)).toEqual(['a:active', 'b:waiting']);
    s = apply(s, ev('completed', 'a', T0 + 4, { runtimeMs: 12.4, result: 'ok' }));
    const top = visibleRuns(s)[0]!;
    expect(top).toMatchObject({ id: 'a', state: 'completed', attempt: 1, worker: 'w1', runtimeMs: 12, changedAt: T0 + 4 });
  });

  it('never moves a run backwards: late, duplicate and out-of-order events change nothing', () => {
    let s = apply(fresh(), ev('enqueued', 'a', T0), ev('active', 'a', T0 + 1), ev('completed', 'a', T0 + 2));
    const before = s.runs.head;
    s = apply(s, ev('active', 'a', T0 + 5), ev('enqueued', 'a', T0 + 6), ev('completed', 'a', T0 + 2));
    expect(s.runs.head).toBe(before);
    // Seen out of order: the completion first, then its start.
    s = apply(fresh(), ev('completed', 'b', T0 + 2), ev('active', 'b', T0 + 1));
    expect(ids(s)).toEqual(['b:completed']);
  });

  it('follows a retry: retrying, a later attempt, and `tq control retry` re-opening a failed run', () => {
    let s = apply(fresh(), ev('active', 'a', T0), ev('retrying', 'a', T0 + 1, { error: 'flaky' }));
    expect(visibleRuns(s)[0]).toMatchObject({ state: 'retrying', error: 'flaky' });
    s = apply(s, ev('active', 'a', T0 + 2, { attempt: 2 }), ev('failed', 'a', T0 + 3, { attempt: 2, error: 'still flaky' }));
    expect(visibleRuns(s)[0]).toMatchObject({ state: 'failed', attempt: 2, error: 'still flaky' });
    s = apply(s, ev('retried', 'a', T0 + 4, { attempt: 2 }));
    expect(visibleRuns(s)[0]).toMatchObject({ state: 'waiting', attempt: 2, error: undefined });
    // A stopping worker hands an active run back: the other legal step back.
    s = apply(s, ev('active', 'a', T0 + 5, { attempt: 3 }), ev('requeued', 'a', T0 + 6, { attempt: 3 }));
    expect(visibleRuns(s)[0]).toMatchObject({ state: 'waiting', attempt: 3 });
  });

  it('progress and log lines change no row, and enqueued with a due time is delayed', () => {
    let s = apply(fresh(), ev('enqueued', 'a', T0, { dueAt: T0 + 60_000 }));
    expect(ids(s)).toEqual(['a:delayed']);
    const head = s.runs.head;
    s = apply(s, ev('progress', 'a', T0 + 1, { progress: 50 }), ev('log', 'a', T0 + 2, { log: 'x' }), ev('progress', 'zzz', T0 + 3));
    expect(s.runs.head).toBe(head);
  });

  it(`keeps at most ${HEAD_CAP} runs in memory however many events arrive`, () => {
    let s = fresh();
    for (let batch = 0; batch < 10; batch++) {
      const events = Array.from({ length: 200 }, (_, i) => ev('enqueued', `r${batch}-${i}`, T0 + batch * 1000 + i));
      s = apply(s, ...events);
    }
    expect(s.runs.head).toHaveLength(HEAD_CAP);
    expect(s.runs.head[0]!.id).toBe('r9-199');
    expect(s.runs.headComplete).toBe(false);
  });

  it('a filter admits matching runs and lets runs leave when they stop matching', () => {
    let s = fresh();
    s = { ...s, runs: { ...s.runs, filter: parseFilter('state:failed') } };
    s = apply(s, ev('active', 'a', T0), ev('failed', 'a', T0 + 1, { error: 'x' }), ev('active', 'b', T0 + 2));
    expect(ids(s)).toEqual(['a:failed']);
    s = apply(s, ev('retried', 'a', T0 + 3));
    expect(ids(s)).toEqual([]);
  });

  it('a seed from the history replaces the runs, unless the filter changed meanwhile', () => {
    const rows: RunRow[] = [{ id: 'h1', task: 'hello', queue: 'default', state: 'completed', attempt: 1, changedAt: T0 }];
    let s = apply(fresh(), ev('enqueued', 'x', T0));
    s = reduce(s, { type: 'seeded', rows, filterText: '', reason: 'reloaded', level: 'warn' });
    expect(ids(s)).toEqual(['h1:completed']);
    expect(s.status).toMatchObject({ text: 'reloaded', level: 'warn' });
    expect(s.runs.headComplete).toBe(true);
    const stale = reduce(s, { type: 'seeded', rows: [], filterText: 'failed' });
    expect(stale).toBe(s);
  });

  it('throughput now counts finished runs over the last ten seconds', () => {
    let s = fresh();
    s = reduce(s, { type: 'events', events: [ev('completed', 'a', T0), ev('failed', 'b', T0), ev('active', 'c', T0)], now: T0 + 1000 });
    s = reduce(s, { type: 'events', events: [ev('completed', 'd', T0)], now: T0 + 2000 });
    expect(finishedRate(s, 10_000)).toBeCloseTo(0.3);
    s = reduce(s, { type: 'refreshed', now: T0 + 30_000 });
    expect(finishedRate(s, 10_000)).toBe(0);
  });
});

describe('monitor state: detail view', () => {
  const detail = (extra: Partial<RunDetailData> = {}): RunDetailData => ({
    id: 'a',
    task: 'hello',
    queue: 'default',
    state: 'active',
    attempt: 1,
    worker: 'w1',
    payload: { name: 'x' },
    result: null,
    error: null,
    stack: null,
    errors: [],
    progress: 0,
    logs: [],
    enqueuedAt: T0,
    startedAt: T0 + 1,
    finishedAt: null,
    runtimeMs: null,
    dueAt: null,
    source: 'redis',
    ...extra,
  });

  it('updates live from the run events: progress, logs, then the result', () => {
    let s: MonitorState = { ...fresh(), mode: 'detail', detail: { id: 'a', row: undefined, data: detail(), loading: false, scroll: 0 } };
    s = apply(
      s,
      ev('progress', 'a', T0 + 2, { progress: 40 }),
      ev('log', 'a', T0 + 3, { log: 'step 1' }),
      ev('progress', 'other', T0 + 3, { progress: 99 }),
    );
    expect(s.detail!.data).toMatchObject({ progress: 40, logs: ['step 1'], state: 'active' });
    s = apply(s, ev('completed', 'a', T0 + 4, { result: { ok: true }, runtimeMs: 3 }));
    expect(s.detail!.data).toMatchObject({ state: 'completed', result: { ok: true }, finishedAt: T0 + 4, runtimeMs: 3 });
  });

  it('keeps every attempt error and the last stack', () => {
    let s: MonitorState = { ...fresh(), mode: 'detail', detail: { id: 'a', row: undefined, data: detail(), loading: false, scroll: 0 } };
    s = apply(
      s,
      ev('retrying', 'a', T0 + 2, { error: 'e1', dueAt: T0 + 10 }),
      ev('active', 'a', T0 + 10, { attempt: 2 }),
      ev('failed', 'a', T0 + 11, { attempt: 2, error: 'e2', stack: 'Error: e2\n    at x' }),
    );
    expect(s.detail!.data!.errors.map((e) => e.error)).toEqual(['e1', 'e2']);
    expect(s.detail!.data).toMatchObject({ state: 'failed', attempt: 2, error: 'e2', stack: 'Error: e2\n    at x', dueAt: null });
  });

  it('a detail that finished loading for another run is ignored', () => {
    const s: MonitorState = { ...fresh(), mode: 'detail', detail: { id: 'a', row: undefined, data: undefined, loading: true, scroll: 0 } };
    expect(reduce(s, { type: 'detail', id: 'b', data: detail({ id: 'b' }) })).toBe(s);
    expect(reduce(s, { type: 'detail', id: 'a', data: detail() }).detail).toMatchObject({ loading: false, data: { id: 'a' } });
  });
});

describe('monitor state: queues and workers', () => {
  it('a worker that stops heartbeating is shown offline, then drops off', () => {
    let s = reduce(fresh(), { type: 'snapshot', queues: [queue('default')], workers: [worker('w1'), worker('w2')], now: T0 });
    expect(s.queues[0]!.consumers).toBe(2);
    s = reduce(s, { type: 'snapshot', queues: [queue('default')], workers: [worker('w2')], now: T0 + 5000 });
    expect(s.workers.map((w) => [w.name, w.offlineSince])).toEqual([
      ['w1', T0 + 5000],
      ['w2', undefined],
    ]);
    expect(s.queues[0]!.consumers).toBe(1);
    s = reduce(s, { type: 'snapshot', queues: [queue('default')], workers: [worker('w2')], now: T0 + 5000 + OFFLINE_LINGER_MS });
    expect(s.workers.map((w) => w.name)).toEqual(['w2']);
  });

  it('flags a paused queue, work with no consumer, and a stuck consumer', () => {
    const s = reduce(fresh(), {
      type: 'snapshot',
      queues: [queue('a', { paused: true }), queue('b', { waiting: 3 }), queue('c', { waiting: 1 }), queue('d')],
      workers: [worker('w', { queues: ['c'], stuck: true })],
      now: T0,
    });
    expect(s.queues.map((q) => queueFlags(q, s.workers))).toEqual([['paused'], ['no-consumer'], ['stuck'], []]);
  });

  it('the selected queue stays selected by name as queues come and go', () => {
    let s = reduce(fresh(), { type: 'snapshot', queues: [queue('b'), queue('c')], workers: [], now: T0 });
    s = { ...s, queue: 'c' };
    s = reduce(s, { type: 'snapshot', queues: [queue('a'), queue('b'), queue('c')], workers: [], now: T0 + 1000 });
    expect(s.queue).toBe('c');
  });
});

describe('monitor stream cursor', () => {
  const info = (o: { first?: string; last?: string; length: number; added?: number }) => ({
    firstId: o.first,
    lastId: o.last,
    length: o.length,
    entriesAdded: o.added,
    maxDeletedId: undefined,
  });

  it('finds no gap while the oldest entry left is at or before the cursor', () => {
    const c = cursorAtEnd(info({ first: '1-0', last: '50-0', length: 50, added: 50 }));
    expect(c).toEqual({ lastId: '50-0', addedUpTo: 50 });
    expect(findGap(c, info({ first: '10-0', last: '80-0', length: 70, added: 80 }))).toBeUndefined();
  });

  it('counts the events trimmed before they were read', () => {
    let c = cursorAtEnd(info({ first: '1-0', last: '50-0', length: 50, added: 50 }));
    c = advance(c, [
      { id: '51-0', events: [] },
      { id: '52-0', events: [] },
    ]);
    // Entries 1..1050 were added and the stream keeps the newest 100: 53..950 were never read.
    expect(findGap(c, info({ first: '951-0', last: '1050-0', length: 100, added: 1050 }))).toEqual({ missed: 898 });
    // The next entry after the cursor is the oldest left: nothing lost.
    expect(findGap(c, info({ first: '53-0', last: '60-0', length: 8, added: 60 }))).toBeUndefined();
  });

  it('without entries-added (Redis < 7) it reports a possible gap of unknown size', () => {
    expect(findGap({ lastId: '5-0', addedUpTo: undefined }, info({ first: '9-0', last: '20-0', length: 3 }))).toEqual({
      missed: undefined,
    });
  });
});

describe('monitor filter', () => {
  it('is the history query language', () => {
    const f = parseFilter('  state:failed,active   task:resize queue:images "premature end" ', new Date(T0));
    expect(f.text).toBe('state:failed,active task:resize queue:images "premature end"');
    expect(f.query).toMatchObject({ states: ['active', 'failed'], tasks: ['resize'], queues: ['images'], text: ['premature end'] });
    expect(parseFilter('')).toEqual(NO_FILTER);
    expect(() => parseFilter('state:faild')).toThrow(QueryError);
  });

  const run = {
    id: 'r-123',
    task: 'resize',
    queue: 'images',
    state: 'failed' as const,
    changedAt: T0,
    worker: 'host1.42',
    error: 'Premature end of JPEG',
  };

  it('a new run must match every term the monitor can check', () => {
    const m = (text: string, payload?: unknown) =>
      matchesFilter(parseFilter(text, new Date(T0)), run, payload === undefined ? {} : { payload });
    expect(m('state:failed task:resize queue:images worker:host1 id:r-1 error:"premature end"')).toBe(true);
    expect(m('state:completed')).toBe(false);
    expect(m('task:email')).toBe(false);
    expect(m('worker:host2')).toBe(false);
    expect(m('id:r-2')).toBe(false);
    expect(m('error:timeout')).toBe(false);
    expect(m('jpeg resize')).toBe(true);
    expect(m('jpeg email')).toBe(false);
    expect(m('since:1m')).toBe(true);
    expect(m('until:2000-01-01')).toBe(false);
    // Payload terms and words need the payload, which only the enqueued event carries.
    expect(m('payload.user:42')).toBe(false);
    expect(m('payload.user:42', { user: 42 })).toBe(true);
    expect(m('payload.user.id:7', { user: { id: '7' } })).toBe(true);
    expect(m('payload.user:42', { user: 43 })).toBe(false);
    expect(m('cat.jpg', { file: 'cat.jpg' })).toBe(true);
  });

  it('a listed run (it matched in SQLite) stays while its state and worker still match', () => {
    const f = parseFilter('state:failed payload.user:42 worker:host1 "words from its logs"', new Date(T0));
    expect(matchesFilter(f, run, { listed: true })).toBe(true);
    expect(matchesFilter(f, { ...run, state: 'waiting' }, { listed: true })).toBe(false);
    expect(matchesFilter(f, { ...run, worker: 'host2.1' }, { listed: true })).toBe(false);
  });

  it('the queue filter quotes what needs quoting', () => {
    expect(queueFilter('images')).toEqual({ query: { ...NO_FILTER.query, queues: ['images'] }, text: 'queue:images' });
  });
});
