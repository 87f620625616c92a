import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compareStreamIds, type RunEvent, type StreamEntry, type StreamInfo } from '../../src/core/run-events.js';
import { matchesFilter, type RunFilter } from '../../src/monitor/filter.js';
import { MonitorController } from '../../src/monitor/controller.js';
import type { MonitorSource } from '../../src/monitor/source.js';
import { visibleRuns, type RowKey, type RunDetailData, type RunRow } from '../../src/monitor/state.js';
import { MonitorApp } from '../../src/monitor/view/app.js';
import type { QueueStats, WorkerStatus } from '../../src/queue/index.js';

/**
 * An in-memory cluster behind the MonitorSource interface: a capped event stream, queues,
 * workers, and a "history" of rows, with a switch to make Redis go away.
 */
class FakeSource implements MonitorSource {
  stream: StreamEntry[] = [];
  added = 0;
  queues: QueueStats[] = [
    {
      name: 'default',
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
    },
  ];
  workers: WorkerStatus[] = [];
  history: RunRow[] = [];
  calls: string[] = [];
  down = false;

  emit(event: RunEvent): void {
    this.added += 1;
    this.stream.push({ id: `${this.added}-0`, events: [event] });
  }
  /** The stream keeps only its newest `n` entries (MAXLEN). */
  trim(n: number): void {
    this.stream = this.stream.slice(-n);
  }
  private check(): void {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
  async snapshot() {
    this.check();
    this.calls.push('snapshot');
    return { queues: this.queues.map((q) => ({ ...q })), workers: this.workers };
  }
  async readEvents(afterId: string, count: number) {
    this.check();
    this.calls.push('read');
    return this.stream.filter((e) => compareStreamIds(e.id, afterId) > 0).slice(0, count);
  }
  async streamInfo(): Promise<StreamInfo> {
    this.check();
    this.calls.push('info');
    return {
      firstId: this.stream[0]?.id,
      lastId: this.stream.at(-1)?.id,
      length: this.stream.length,
      entriesAdded: this.added,
      maxDeletedId: undefined,
    };
  }
  async catchUp() {
    this.calls.push('catchUp');
  }
  recent(filter: RunFilter, limit: number, page?: { direction: 'older' | 'newer'; key: RowKey }) {
    const rows = this.history.filter((r) => matchesFilter(filter, r)).sort((a, b) => b.changedAt - a.changedAt);
    const older = page?.direction === 'older' ? rows.filter((r) => r.changedAt < page.key.at) : rows;
    return older.slice(0, limit);
  }
  historyStats() {
    return { minutes: [], byQueue: {}, failedLastHour: 0 };
  }
  async detail(id: string): Promise<RunDetailData | undefined> {
    const r = this.history.find((h) => h.id === id);
    return (
      r && {
        ...r,
        worker: null,
        payload: { n: 1 },
        result: null,
        error: null,
        stack: null,
        errors: [],
        progress: null,
        logs: [],
        enqueuedAt: r.changedAt,
        startedAt: null,
        finishedAt: null,
        runtimeMs: null,
        dueAt: null,
        source: 'history',
      }
    );
  }
  async retry(id: string) {
    this.calls.push(`retry ${id}`);
    return { queue: 'default', task: 'hello' };
  }
  async cancel(id: string) {
    this.calls.push(`cancel ${id}`);
    return { outcome: 'requested' as const, queue: 'default', state: 'active' };
  }
  async setPaused(queue: string, paused: boolean) {
    this.check();
    this.calls.push(`${paused ? 'pause' : 'resume'} ${queue}`);
    for (const q of this.queues) if (q.name === queue) q.paused = paused;
  }
  async reconnect() {
    this.check();
    this.calls.push('reconnect');
  }
  async close() {
    this.calls.push('close');
  }
}

const T0 = Date.now();
const ev = (type: RunEvent['type'], jobId: string, at: number): RunEvent => ({
  type,
  jobId,
  task: 'hello',
  queue: 'default',
  at,
  attempt: type === 'enqueued' ? 0 : 1,
});
const hist = (id: string, at: number, state: RunRow['state'] = 'completed'): RunRow => ({
  id,
  task: 'hello',
  queue: 'default',
  state,
  attempt: 1,
  changedAt: at,
});

const controllers: MonitorController[] = [];
function controllerFor(source: FakeSource, size = { columns: 100, rows: 30 }) {
  const c = new MonitorController(source, { redisUrl: 'redis://h:6379', prefix: 'tq', intervalMs: 1000, ...size });
  controllers.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(controllers.splice(0).map((c) => c.close()));
});

describe('monitor controller', () => {
  it('a (re)started monitor shows the earlier runs from the history, then follows the stream from its end', async () => {
    const source = new FakeSource();
    source.emit(ev('enqueued', 'old', T0 - 5000)); // already in the history: not read again
    source.history = [hist('old', T0 - 4000), hist('older', T0 - 9000, 'failed')];
    const c = controllerFor(source);
    await c.start({ loop: false });
    expect(visibleRuns(c.getState()).map((r) => r.id)).toEqual(['old', 'older']);
    expect(source.calls.slice(0, 2)).toEqual(['info', 'catchUp']);
    source.emit(ev('enqueued', 'new', T0));
    await c.refresh();
    expect(visibleRuns(c.getState()).map((r) => `${r.id}:${r.state}`)).toEqual(['new:waiting', 'old:completed', 'older:failed']);
  });

  it('each refresh costs one snapshot and one read, however many runs there are', async () => {
    const source = new FakeSource();
    const c = controllerFor(source);
    await c.start({ loop: false });
    source.calls = [];
    for (let i = 0; i < 50; i++) source.emit(ev('enqueued', `r${i}`, T0 + i));
    await c.refresh();
    await c.refresh();
    expect(source.calls).toEqual(['snapshot', 'read', 'snapshot', 'read']);
  });

  it('after Redis comes back it resumes from its last event, and says so when the stream was trimmed past it', async () => {
    const source = new FakeSource();
    const c = controllerFor(source);
    await c.start({ loop: false });
    source.emit(ev('enqueued', 'a', T0 + 1));
    await c.refresh();
    source.down = true;
    await c.refresh();
    expect(c.getState().connection).toMatchObject({ up: false, detail: expect.stringMatching(/ECONNREFUSED/) });
    // While away: a short outage loses nothing...
    source.down = false;
    source.emit(ev('active', 'a', T0 + 2));
    await c.refresh();
    expect(c.getState().connection.up).toBe(true);
    expect(c.getState().status?.text).toBe('reconnected to Redis');
    expect(visibleRuns(c.getState()).map((r) => `${r.id}:${r.state}`)).toEqual(['a:active']);
    // ...a long one finds its position trimmed: it says so and reloads from the history.
    source.down = true;
    await c.refresh();
    source.down = false;
    for (let i = 0; i < 20; i++) source.emit(ev('enqueued', `lost${i}`, T0 + 10 + i));
    source.trim(5);
    source.history = [hist('a', T0 + 3), ...Array.from({ length: 20 }, (_, i) => hist(`lost${i}`, T0 + 10 + i, 'waiting'))];
    source.calls = [];
    await c.refresh();
    const state = c.getState();
    expect(state.status).toMatchObject({
      level: 'warn',
      text: expect.stringMatching(
        /trimmed past this monitor's position: 15 batch\(es\) of run events never reached it; reloaded the runs from the SQLite history/,
      ),
    });
    expect(source.calls).toEqual(['reconnect', 'info', 'catchUp', 'snapshot', 'read']);
    expect(visibleRuns(state)).toHaveLength(21);
    expect(visibleRuns(state)[0]!.id).toBe('lost19');
  });

  it('actions go to the source and confirm in the status line', async () => {
    const source = new FakeSource();
    source.history = [hist('f1', T0, 'failed'), hist('a1', T0 - 1, 'active')];
    const c = controllerFor(source);
    await c.start({ loop: false });
    c.key({ name: 'char', char: 'r' });
    await vi.waitFor(() => expect(c.getState().status?.text).toBe('retried hello run f1: waiting on queue default'));
    c.key({ name: 'char', char: 'j' });
    c.key({ name: 'char', char: 'c' });
    c.key({ name: 'char', char: 'y' });
    await vi.waitFor(() => expect(c.getState().status?.text).toBe('cancel requested for active run a1: its worker aborts it'));
    c.key({ name: 'char', char: 'p' });
    await vi.waitFor(() => expect(c.getState().status?.text).toMatch(/^paused queue default/));
    await vi.waitFor(() => expect(c.getState().queues[0]!.paused).toBe(true));
    source.down = true;
    c.key({ name: 'char', char: 'p' });
    await vi.waitFor(() => expect(c.getState().status).toMatchObject({ level: 'error', text: expect.stringMatching(/ECONNREFUSED/) }));
    expect(source.calls.filter((x) => /^(retry|cancel|pause|resume)/.test(x))).toEqual(['retry f1', 'cancel a1', 'pause default']);
  });

  it('Enter loads the detail; paging past the end reads the history', async () => {
    const source = new FakeSource();
    source.history = Array.from({ length: 600 }, (_, i) => hist(`h${i}`, T0 - i * 1000));
    const c = controllerFor(source);
    await c.start({ loop: false });
    expect(c.getState().runs.head).toHaveLength(500);
    c.key({ name: 'enter' });
    await vi.waitFor(() => expect(c.getState().detail).toMatchObject({ loading: false, data: { id: 'h0', payload: { n: 1 } } }));
    c.key({ name: 'escape' });
    c.key({ name: 'end' });
    c.key({ name: 'down' });
    await vi.waitFor(() => expect(visibleRuns(c.getState())).toHaveLength(600));
    expect(c.getState().runs.cursor).toBe(500);
  });
});

describe('monitor app (ink)', () => {
  it('draws into the terminal size it is given, follows a resize, and q quits', async () => {
    const source = new FakeSource();
    source.history = Array.from({ length: 100 }, (_, i) => hist(`run-${String(i).padStart(3, '0')}`, T0 - i * 1000));
    const c = controllerFor(source, { columns: 80, rows: 24 });
    await c.start({ loop: false });
    let quit = false;
    c.onQuit(() => (quit = true));
    const app = render(createElement(MonitorApp, { controller: c, theme: { color: false } }));
    const setSize = (columns: number, rows: number) => {
      Object.defineProperty(app.stdout, 'columns', { value: columns, configurable: true });
      Object.defineProperty(app.stdout, 'rows', { value: rows, configurable: true });
      app.stdout.emit('resize');
    };
    try {
      setSize(80, 24);
      await vi.waitFor(() => expect(app.lastFrame()!.split('\n')).toHaveLength(23));
      const small = app.lastFrame()!;
      for (const l of small.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
      expect(small).toMatch(/run-000/);
      setSize(160, 50);
      await vi.waitFor(() => expect(app.lastFrame()!.split('\n')).toHaveLength(49));
      expect(
        app
          .lastFrame()!
          .split('\n')
          .filter((l) => /run-\d{3}/.test(l)).length,
      ).toBeGreaterThan(30);
      app.stdin.write('j');
      await vi.waitFor(() => expect(app.lastFrame()).toMatch(/paused at 2 of 100/));
      app.stdin.write('?');
      await vi.waitFor(() => expect(app.lastFrame()).toMatch(/ Keys /));
      app.stdin.write('x');
      app.stdin.write('q');
      await vi.waitFor(() => expect(quit).toBe(true));
    } finally {
      app.unmount();
    }
  });
});

describe('monitor app (ink): keys that arrive in one read', () => {
  it('a pasted "/failed" and Enter in one chunk applies the filter', async () => {
    const source = new FakeSource();
    source.history = Array.from({ length: 5 }, (_, i) => hist(`run-${i}`, T0 - i * 1000));
    const c = controllerFor(source, { columns: 100, rows: 30 });
    await c.start({ loop: false });
    const app = render(createElement(MonitorApp, { controller: c, theme: { color: false } }));
    try {
      await vi.waitFor(() => expect(app.lastFrame()).toMatch(/run-0/));
      app.stdin.write('/state:failed\r');
      await vi.waitFor(() => expect(c.getState().runs.filter).toMatchObject({ query: { states: ['failed'] }, text: 'state:failed' }));
      expect(c.getState().prompt).toBeUndefined();
      app.stdin.write('/x\u007ftask:hello\r');
      await vi.waitFor(() => expect(c.getState().runs.filter.text).toBe('state:failed task:hello'));
    } finally {
      app.unmount();
    }
  });
});
