import { describe, expect, it } from 'vitest';
import { pressKey, type Command, type KeyPress } from '../../src/monitor/keys.js';
import { reduce } from '../../src/monitor/reduce.js';
import { initialState, PAGE_SIZE, selectedRun, VIEW_CAP, visibleRuns, type MonitorState, type RunRow } from '../../src/monitor/state.js';
import type { QueueStats } from '../../src/queue/index.js';
import type { TaskState } from '../../src/core/states.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

const row = (i: number, state: TaskState = 'completed'): RunRow => ({
  id: `r${String(i).padStart(5, '0')}`,
  task: 'hello',
  queue: 'default',
  state,
  attempt: 1,
  changedAt: T0 - i * 1000,
});

function withRuns(n: number, rows = 30): MonitorState {
  const s = initialState({ redisUrl: 'redis://h', prefix: 'tq', intervalMs: 1000, now: T0, columns: 100, rows });
  const queues: QueueStats[] = ['default', 'images'].map((name) => ({
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
    consumers: 1,
  }));
  const seeded = reduce(s, { type: 'seeded', rows: Array.from({ length: n }, (_, i) => row(i)), filterText: '' });
  return reduce(seeded, { type: 'snapshot', queues, workers: [], now: T0 });
}

/** As if the history held more runs than the head (it was trimmed or seeded full). */
const moreInHistory = (s: MonitorState): MonitorState => ({ ...s, runs: { ...s.runs, headComplete: false } });

const char = (c: string): KeyPress => ({ name: 'char', char: c });

/** Presses keys in order; returns the final state and every command asked for. */
function press(state: MonitorState, ...keys: (KeyPress | string)[]): { state: MonitorState; commands: Command[] } {
  const commands: Command[] = [];
  let s = state;
  for (const k of keys) {
    const r = pressKey(s, typeof k === 'string' ? char(k) : k);
    s = r.state;
    commands.push(...r.commands);
  }
  return { state: s, commands };
}

describe('monitor keys: the runs list', () => {
  it('the top row is live; moving down freezes the list so new runs do not move it', () => {
    let { state } = press(withRuns(5), 'j', 'j');
    expect(state.runs.frozen).toBeDefined();
    expect(selectedRun(state)?.id).toBe('r00002');
    state = reduce(state, {
      type: 'events',
      events: [{ type: 'enqueued', jobId: 'new', task: 'hello', queue: 'default', at: T0 + 1, attempt: 0 }],
      now: T0 + 1000,
    });
    expect(selectedRun(state)?.id).toBe('r00002');
    expect(state.runs.newSinceFrozen).toBe(1);
    expect(state.runs.head[0]!.id).toBe('new');
    // Back on the top row: live again, the new run shows.
    state = press(state, 'k', 'k').state;
    expect(state.runs.frozen).toBeUndefined();
    expect(selectedRun(state)?.id).toBe('new');
    // g is "back to live" from anywhere.
    state = press(state, { name: 'end' }, 'g').state;
    expect(state.runs.frozen).toBeUndefined();
  });

  it('a frozen row still changes state in place', () => {
    let { state } = press(withRuns(3), 'j');
    state = reduce(state, {
      type: 'events',
      events: [{ type: 'retried', jobId: 'r00001', task: 'hello', queue: 'default', at: T0 + 5, attempt: 1 }],
      now: T0 + 1000,
    });
    expect(visibleRuns(state).map((r) => `${r.id}:${r.state}`)).toEqual(['r00000:completed', 'r00001:waiting', 'r00002:completed']);
    // Live, the same change moves the run to the top.
    expect(visibleRuns(press(state, 'k').state)[0]!.id).toBe('r00001');
  });

  it('scrolling past the end asks the history for the next older page, then steps onto it', () => {
    expect(press(withRuns(3), 'j', 'j', 'j').commands).toEqual([]); // the head holds the whole history
    const start = moreInHistory(withRuns(3));
    const { state, commands } = press(start, 'j', 'j', 'j');
    expect(commands).toEqual([{ type: 'page', direction: 'older', key: { at: T0 - 2000, id: 'r00002' }, filter: start.runs.filter }]);
    expect(state.runs.loading).toBe('older');
    // Pressing again while loading asks nothing more.
    expect(press(state, 'j').commands).toEqual([]);
    const after = reduce(state, { type: 'page', direction: 'older', rows: [row(2), row(3), row(4)] });
    expect(visibleRuns(after).map((r) => r.id)).toEqual(['r00000', 'r00001', 'r00002', 'r00003', 'r00004']);
    expect(selectedRun(after)?.id).toBe('r00003');
    expect(after.runs.olderExhausted).toBe(true);
    expect(press(after, 'j', 'j', 'j').commands).toEqual([]);
  });

  it(`a browsed view never holds more than ${VIEW_CAP} rows, and pages the dropped ones back in`, () => {
    let state = press(moreInHistory(withRuns(10)), { name: 'end' }, 'j').state;
    let i = 10;
    while (visibleRuns(state).length < VIEW_CAP + PAGE_SIZE && i < 5000) {
      state = reduce(state, { type: 'page', direction: 'older', rows: Array.from({ length: PAGE_SIZE }, (_, k) => row(i + k)) });
      i += PAGE_SIZE;
      if (state.runs.newerDropped) break;
      state = press(state, { name: 'end' }, 'j').state;
    }
    expect(visibleRuns(state).length).toBeLessThanOrEqual(VIEW_CAP);
    expect(state.runs.newerDropped).toBe(true);
    const first = visibleRuns(state)[0]!;
    const top = press(state, 'g').state;
    expect(top.runs.frozen).toBeUndefined();
    // Walking up to the first row and beyond asks for the newer page that was dropped.
    const { state: atTop, commands } = press(state, ...Array.from({ length: VIEW_CAP + 1 }, () => 'k'));
    expect(atTop.runs.cursor).toBe(0);
    expect(commands.at(-1)).toMatchObject({ type: 'page', direction: 'newer', key: { id: first.id } });
  });
});

describe('monitor keys: actions', () => {
  it('Enter opens the selected run and asks for its detail; Esc goes back', () => {
    const { state, commands } = press(withRuns(3), 'j', { name: 'enter' });
    expect(state.mode).toBe('detail');
    expect(state.detail).toMatchObject({ id: 'r00001', loading: true, row: { id: 'r00001' } });
    expect(commands).toEqual([{ type: 'detail', id: 'r00001' }]);
    expect(press(state, { name: 'escape' }).state).toMatchObject({ mode: 'main', detail: undefined });
  });

  it('r retries a failed run and refuses a completed one in the status line', () => {
    const base = withRuns(2);
    const failed = { ...base, runs: { ...base.runs, head: [row(0, 'failed'), row(1)] } };
    expect(press(failed, 'r').commands).toEqual([{ type: 'retry', id: 'r00000' }]);
    const refused = press(failed, 'j', 'r');
    expect(refused.commands).toEqual([]);
    expect(refused.state.status).toMatchObject({ level: 'warn', text: 'run r00001 is completed; only failed runs can be retried' });
  });

  it('c asks first and cancels only on y', () => {
    const base = withRuns(1);
    const active = { ...base, runs: { ...base.runs, head: [row(0, 'active')] } };
    const asked = press(active, 'c');
    expect(asked.state.prompt).toMatchObject({ kind: 'confirm-cancel', id: 'r00000' });
    expect(press(asked.state, 'y').commands).toEqual([{ type: 'cancel', id: 'r00000' }]);
    const no = press(asked.state, 'n');
    expect(no.commands).toEqual([]);
    expect(no.state.prompt).toBeUndefined();
    expect(press(withRuns(1), 'c').state.status?.text).toMatch(/already completed; nothing to cancel/);
  });

  it('p pauses the selected queue, or resumes it when paused', () => {
    const s = withRuns(0);
    expect(press(s, { name: 'tab' }, 'j', 'p').commands).toEqual([{ type: 'pause', queue: 'images', paused: true }]);
    const paused = { ...s, queues: s.queues.map((q) => ({ ...q, paused: true })) };
    expect(press(paused, 'p').commands).toEqual([{ type: 'pause', queue: 'default', paused: false }]);
  });

  it('/ types a filter that reloads the runs; Esc clears it', () => {
    const { state, commands } = press(withRuns(3), '/', ...'state:fail', 'x', { name: 'backspace' }, 'e', 'd', { name: 'enter' });
    expect(state.runs.filter).toMatchObject({ query: { states: ['failed'] }, text: 'state:failed' });
    expect(state.runs.head).toEqual([]);
    expect(commands).toEqual([{ type: 'seed', filter: state.runs.filter }]);
    expect(state.status?.text).toBe('showing runs matching "state:failed"');
    const cleared = press(state, { name: 'escape' });
    expect(cleared.commands).toEqual([{ type: 'seed', filter: expect.objectContaining({ text: '' }) }]);
  });

  it('reopening / starts from the current filter and a space, so a new word is not glued on', () => {
    const first = press(withRuns(3), '/', ...'state:failed', { name: 'enter' }).state;
    expect(press(first, '/').state.prompt).toEqual({ kind: 'filter', text: 'state:failed ' });
    const { state } = press(first, '/', ...'task:hello', { name: 'enter' });
    expect(state.runs.filter).toMatchObject({ query: { states: ['failed'], tasks: ['hello'] }, text: 'state:failed task:hello' });
    expect(press(withRuns(3), '/').state.prompt).toEqual({ kind: 'filter', text: '' });
  });

  it('Enter on a queue shows its runs', () => {
    const { commands } = press(withRuns(0), '1', { name: 'enter' });
    expect(commands).toEqual([
      { type: 'seed', filter: expect.objectContaining({ query: expect.objectContaining({ queues: ['default'] }) }) },
    ]);
  });

  it('a bad filter keeps the prompt open with what was typed and says what is wrong', () => {
    const before = withRuns(3);
    const { state, commands } = press(before, '/', ...'stat:failed', { name: 'enter' });
    expect(commands).toEqual([]);
    expect(state.prompt).toEqual({ kind: 'filter', text: 'stat:failed' });
    expect(state.status).toMatchObject({ level: 'warn' });
    expect(state.status?.text).toMatch(/^stat:failed: unknown key "stat"; did you mean "state:"\?/);
    expect(state.runs.filter).toBe(before.runs.filter);
  });

  it('Tab cycles the panels, ? shows help and any key closes it, q quits from anywhere', () => {
    const s = withRuns(1);
    expect(press(s, { name: 'tab' }).state.focus).toBe('queues');
    expect(press(s, { name: 'tab' }, { name: 'tab' }).state.focus).toBe('workers');
    expect(press(s, { name: 'backTab' }).state.focus).toBe('workers');
    const help = press(s, '?').state;
    expect(help.mode).toBe('help');
    expect(press(help, 'x').state.mode).toBe('main');
    expect(press(help, 'q').commands).toEqual([{ type: 'quit' }]);
    expect(press(s, { name: 'enter' }, 'q').commands.at(-1)).toEqual({ type: 'quit' });
    expect(press(s, { name: 'char', char: 'c', ctrl: true }).commands).toEqual([{ type: 'quit' }]);
  });
});
