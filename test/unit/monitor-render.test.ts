import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/run-events.js';
import type { QueueStats, WorkerStatus } from '../../src/queue/index.js';

// Colour must be possible for the NO_COLOR assertions to mean anything: chalk decides at import.
const forceColor = process.env.FORCE_COLOR;
process.env.FORCE_COLOR = '1';
const { createElement } = await import('react');
const { renderToString } = await import('ink');
if (forceColor === undefined) delete process.env.FORCE_COLOR;
else process.env.FORCE_COLOR = forceColor;
const { Screen } = await import('../../src/monitor/view/screen.js');
const { renderSnapshot } = await import('../../src/monitor/view/snapshot.js');
const { reduce } = await import('../../src/monitor/reduce.js');
const { initialState } = await import('../../src/monitor/state.js');
type MonitorState = import('../../src/monitor/state.js').MonitorState;

const NOW = Date.now();
const COLOR = /\u001b\[(3[0-7]|9[0-7])m/;
const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

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
    host: 'build-box',
    pid: 4242,
    queues: ['default', 'images'],
    concurrency: 2,
    active: [],
    processed: 1234,
    failed: 5,
    zombies: 0,
    startedAt: NOW - 3_600_000,
    lastFetchAt: NOW,
    rssBytes: 150 * 1024 * 1024,
    version: '0.1.0',
    at: NOW,
    heartbeatAgeMs: 1000,
    stuck: false,
    ...extra,
  };
}

/** A busy cluster: four queues (one paused, one with nobody consuming it), three workers, runs. */
function busy(columns: number, rows: number): MonitorState {
  let s = initialState({ redisUrl: 'redis://:***@cache.internal:6379', prefix: 'shop', intervalMs: 1000, now: NOW, columns, rows });
  s = reduce(s, {
    type: 'snapshot',
    queues: [
      queue('default', { waiting: 120, active: 2, completed: 5400, failed: 12, oldestWaitingMs: 95_000 }),
      queue('images', { waiting: 3, active: 1, completed: 800, paused: true }),
      queue('reports', { waiting: 7, oldestWaitingMs: 600_000 }),
      queue('mail'),
    ],
    workers: [worker('thumbs-1'), worker('thumbs-2', { stuck: true }), worker('gone-3')],
    now: NOW - 20_000,
  });
  // gone-3 stops heartbeating.
  s = reduce(s, { type: 'snapshot', queues: s.queues, workers: [worker('thumbs-1'), worker('thumbs-2', { stuck: true })], now: NOW });
  const events: RunEvent[] = [];
  for (let i = 0; i < 60; i++) {
    const id = `mww${String(i).padStart(13, '0')}`;
    events.push({
      type: 'enqueued',
      jobId: id,
      task: i % 3 ? 'hello' : 'resize',
      queue: 'default',
      at: NOW - 60_000 + i * 100,
      attempt: 0,
    });
    if (i % 2)
      events.push({
        type: 'active',
        jobId: id,
        task: 'hello',
        queue: 'default',
        at: NOW - 50_000 + i * 100,
        attempt: 1,
        worker: 'thumbs-1',
      });
    if (i % 4 === 1)
      events.push({
        type: 'completed',
        jobId: id,
        task: 'hello',
        queue: 'default',
        at: NOW - 40_000 + i * 100,
        attempt: 1,
        runtimeMs: 210,
      });
    if (i % 4 === 3)
      events.push({
        type: 'failed',
        jobId: id,
        task: 'hello',
        queue: 'default',
        at: NOW - 40_000 + i * 100,
        attempt: 1,
        error: 'corrupt or unrecognised image: bad header',
      });
  }
  s = reduce(s, { type: 'events', events, now: NOW });
  const minutes = Array.from({ length: 30 }, (_, i) => ({
    minute: new Date(NOW - (29 - i) * 60_000).toISOString(),
    completed: i * 3,
    failed: i % 7 === 0 ? 1 : 0,
    cancelled: 0,
    expired: 0,
  }));
  s = reduce(s, { type: 'history', stats: { minutes, byQueue: { default: minutes }, failedLastHour: 4 } });
  return reduce(s, { type: 'status', text: 'paused queue images: workers take no new runs from it (p resumes)', level: 'info', now: NOW });
}

const draw = (state: MonitorState, color = true) =>
  renderToString(createElement(Screen, { state, theme: { color } }), { columns: state.size.columns });

describe('monitor screen', () => {
  it('fits 80x24: every panel, one line shorter than the terminal, nothing wider than it', () => {
    const frame = draw(busy(80, 24));
    const lines = strip(frame).split('\n');
    expect(lines).toHaveLength(23);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    const text = lines.join('\n');
    expect(lines[0]).toMatch(/^tq monitor {2}redis:\/\/:\*\*\*@cache\.internal:6379 {2}prefix shop {2}2 workers online/);
    expect(lines[1]).toMatch(/wait 130 act 3 delay 0 done 6200 fail 12 │ now [\d.]+\/s │ \d+m [▁-█·!]+ │ failed 1h 4/);
    expect(text).toMatch(/ Queues .*4/);
    expect(text).toMatch(/images .*paused/);
    expect(text).toMatch(/reports .*no-consumer/);
    expect(text).toMatch(/default .*stuck/); // thumbs-2 consumes it and is stuck
    expect(text).toMatch(/ Workers .*2 online/);
    expect(text).toMatch(/thumbs-2 .*stuck/);
    expect(text).toMatch(/gone-3 .*offline/);
    expect(text).toMatch(/ Runs .*live/);
    expect(text).toMatch(/mww0000000000059 hello +failed +1 +- default +thumbs-1/);
    expect(text).toMatch(/mww0000000000057 resize +completed +1 +0\.21s default +thumbs-1/);
    expect(lines.at(-1)).toMatch(/paused queue images.*\? help$/);
  });

  it('uses 160x50 for more rows and columns: errors, worker queues, a wider chart', () => {
    const lines = strip(draw(busy(160, 50))).split('\n');
    expect(lines).toHaveLength(49);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(160);
    const text = lines.join('\n');
    expect(lines[1]).toMatch(/waiting 130 {2}active 3 {2}delayed 0 {2}completed 6200 {2}failed 12/);
    expect(text).toMatch(/finished\/min, last 30m/);
    expect(text).toMatch(/thumbs-1 +build-box +4242 +0\/4 +1234 +5 +150\.0 MB +\ds +default,images/);
    expect(text).toMatch(/failed .*corrupt or unrecognised image: bad header/);
    const runRows = lines.filter((l) => /mww\d{13}/.test(l));
    expect(runRows.length).toBeGreaterThan(25);
  });

  it('follows a resize: the same state drawn at another size', () => {
    const wide = busy(160, 50);
    const narrow = reduce(wide, { type: 'resize', columns: 80, rows: 24 });
    expect(strip(draw(narrow)).split('\n')).toHaveLength(23);
    expect(strip(draw(narrow))).not.toMatch(/corrupt/);
  });

  it('colours states, and draws no colour at all without it (NO_COLOR)', () => {
    const state = busy(100, 30);
    expect(draw(state, true)).toMatch(COLOR);
    const plain = draw(state, false);
    expect(plain).not.toMatch(COLOR);
    // Selection and titles still stand out without colour.
    expect(plain).toMatch(/\u001b\[7m/);
  });

  it('draws the detail view with payload, error, stack, attempts, progress and logs', () => {
    let state = busy(100, 30);
    state = {
      ...state,
      mode: 'detail',
      detail: {
        id: 'mww0000000000003',
        row: undefined,
        loading: false,
        scroll: 0,
        data: {
          id: 'mww0000000000003',
          task: 'resize',
          queue: 'images',
          state: 'active',
          attempt: 2,
          worker: 'thumbs-1',
          payload: { imageId: 'img_1', path: 'original/cat.jpg' },
          result: null,
          error: 'EMFILE: too many open files',
          stack: 'Error: EMFILE: too many open files\n    at open (node:fs)',
          errors: [{ attempt: 1, error: 'EMFILE: too many open files', at: new Date(NOW - 5000).toISOString() }],
          progress: 40,
          logs: ['decoded 3000x2000', 'resizing'],
          enqueuedAt: NOW - 10_000,
          startedAt: NOW - 2000,
          finishedAt: null,
          runtimeMs: null,
          dueAt: null,
          source: 'redis',
        },
      },
    };
    const text = strip(draw(state));
    expect(text).toMatch(/run +mww0000000000003 {2}\(live in Redis\)/);
    expect(text).toMatch(/state +active +attempt 2 +worker thumbs-1/);
    expect(text).toMatch(/progress +█+░+ 40%/);
    expect(text).toMatch(/"imageId": "img_1"/);
    expect(text).toMatch(/error +EMFILE: too many open files/);
    expect(text).toMatch(/at open \(node:fs\)/);
    expect(text).toMatch(/logs +2 line\(s\)\n +decoded 3000x2000\n +resizing/);
  });

  it('shows the help, the filter prompt and the cancel question', () => {
    const state = busy(80, 24);
    expect(strip(draw({ ...state, mode: 'help' }))).toMatch(/r +retry the selected failed run[\s\S]*q +quit/);
    expect(
      strip(draw({ ...state, prompt: { kind: 'filter', text: 'failed res' } }))
        .split('\n')
        .at(-1),
    ).toMatch(/^filter runs: failed res/);
    expect(
      strip(draw({ ...state, prompt: { kind: 'confirm-cancel', id: 'abc', task: 'hello', state: 'active' } }))
        .split('\n')
        .at(-1),
    ).toBe('cancel hello run abc (active)? y/n');
  });

  it('a one-shot snapshot is plain text with every queue and worker at natural height', () => {
    const text = renderSnapshot(busy(100, 10), 100);
    expect(text).not.toMatch(/\u001b/);
    for (const name of ['default', 'images', 'reports', 'mail', 'thumbs-1', 'thumbs-2', 'gone-3']) expect(text).toContain(name);
    expect(text.split('\n').filter((l) => /mww\d{13}/.test(l))).toHaveLength(20);
    expect(text).not.toMatch(/\? help/);
    // Nothing reads keys in a snapshot: no key hints anywhere.
    expect(text).not.toMatch(/pause\/resume|Enter show|g: back/);
  });

  it('text from outside (errors, names) cannot inject escape sequences', () => {
    const s = reduce(busy(100, 30), {
      type: 'events',
      events: [
        {
          type: 'failed',
          jobId: 'evil',
          task: 'hello',
          queue: 'default',
          at: NOW + 1,
          attempt: 1,
          error: 'bad\u001b[2J\u001b[31mred\nline',
        },
      ],
      now: NOW + 1000,
    });
    const frame = draw(reduce(s, { type: 'resize', columns: 160, rows: 50 }), false);
    expect(frame).not.toContain('\u001b[2J');
    expect(strip(frame)).toMatch(/evil .*badred line/);
  });
});
