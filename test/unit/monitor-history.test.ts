import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/run-events.js';
import { rowFromHistory } from '../../src/monitor/source.js';
import { HistoryQueries, lastChangeOf, openStore } from '../../src/store/index.js';

// The history queries the monitor pages through, on a real (temporary) SQLite file: no Redis.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-monitor-history-'));
const store = openStore(path.join(dir, 'tq.db'));
afterAll(() => store.close());

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const ev = (type: RunEvent['type'], jobId: string, at: number, extra: Partial<RunEvent> = {}): RunEvent => ({
  type,
  jobId,
  task: 'hello',
  queue: 'default',
  at,
  attempt: type === 'enqueued' ? 0 : 1,
  ...extra,
});

// 250 runs: every 5th still waiting, the others finished (every 7th of those failed), in two queues.
const events: RunEvent[] = [];
for (let i = 0; i < 250; i++) {
  const id = `run${String(i).padStart(4, '0')}`;
  const queue = i % 2 ? 'images' : 'default';
  const task = i % 2 ? 'resize' : 'hello';
  events.push(ev('enqueued', id, T0 + i * 1000, { queue, task }));
  if (i % 5 === 0) continue;
  events.push(ev('active', id, T0 + i * 1000 + 100, { queue, task }));
  events.push(
    i % 7
      ? ev('completed', id, T0 + i * 1000 + 200, { queue, task, runtimeMs: 100 })
      : ev('failed', id, T0 + i * 1000 + 200, { queue, task, error: 'x' }),
  );
}
store.db.transaction(() => store.runs.apply(events))();
const history = new HistoryQueries(store.db);

describe('history pages for the monitor', () => {
  it('lists runs by last change, newest first, and pages through all of them without gaps or repeats', () => {
    const first = history.recent({ limit: 100 });
    expect(first).toHaveLength(100);
    const keys = first.map(lastChangeOf);
    expect([...keys].sort().reverse()).toEqual(keys);
    const seen = first.map((r) => r.job_id);
    let last = first.at(-1)!;
    for (;;) {
      const page = history.recent({ limit: 100, before: { at: lastChangeOf(last), id: last.job_id } });
      seen.push(...page.map((r) => r.job_id));
      if (page.length < 100) break;
      last = page.at(-1)!;
    }
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    // And back up: the page after a row is the runs just newer than it, still newest first.
    const pivot = first[50]!;
    const newer = history.recent({ limit: 10, after: { at: lastChangeOf(pivot), id: pivot.job_id } });
    expect(newer.map((r) => r.job_id)).toEqual(first.slice(40, 50).map((r) => r.job_id));
  });

  it('filters by states, tasks and queues', () => {
    const failed = history.recent({ states: ['failed'], limit: 500 });
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((r) => r.state === 'failed')).toBe(true);
    const waitingImages = history.recent({ states: ['waiting'], queues: ['images'], limit: 500 });
    expect(waitingImages.every((r) => r.state === 'waiting' && r.queue === 'images')).toBe(true);
    expect(waitingImages).toHaveLength(25);
    expect(history.recent({ tasks: ['resize', 'nope'], limit: 500 }).every((r) => r.task === 'resize')).toBe(true);
  });

  it('becomes list rows keyed by the same last-change time', () => {
    const [row] = history.recent({ limit: 1 });
    expect(rowFromHistory(row!)).toMatchObject({ id: 'run0249', state: 'completed', changedAt: Date.parse(row!.finished_at!), attempt: 1 });
  });

  it('counts finished runs per minute and queue, and failures since a time', () => {
    const byQueue = history.perMinuteByQueue(10, T0 + 250_000);
    expect(Object.keys(byQueue).sort()).toEqual(['default', 'images']);
    expect(byQueue.default).toHaveLength(10);
    const total = (q: string) => byQueue[q]!.reduce((n, m) => n + m.completed + m.failed, 0);
    expect(total('default') + total('images')).toBe(200);
    expect(history.finishedSince(new Date(T0).toISOString()).failed).toBe(events.filter((e) => e.type === 'failed').length);
  });
});
