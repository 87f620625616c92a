import { FINAL_STATES, type TaskState } from '../core/states.js';
import { detailLines } from './detail-lines.js';
import { QueryError } from '../core/errors.js';
import { isFiltering, NO_FILTER, parseFilter, queueFilter, type RunFilter } from './filter.js';
import { scrollTo } from './layout.js';
import { goLive, moveRuns, type PageRequest, type RunsMove } from './runs-view.js';
import { withStatus } from './reduce.js';
import { layoutOf, PANELS, selectedQueue, selectedRun, type MonitorState, type Panel } from './state.js';

/** A key press, independent of the terminal library. */
export interface KeyPress {
  name:
    | 'up'
    | 'down'
    | 'left'
    | 'right'
    | 'pageUp'
    | 'pageDown'
    | 'home'
    | 'end'
    | 'tab'
    | 'backTab'
    | 'enter'
    | 'escape'
    | 'backspace'
    | 'char';
  /** The character typed, for `char`. */
  char?: string;
  ctrl?: boolean;
}

/** What a key press asks the controller to do (the I/O the pure model cannot do itself). */
export type Command =
  | PageRequest
  | { type: 'quit' }
  | { type: 'retry'; id: string }
  | { type: 'cancel'; id: string }
  | { type: 'pause'; queue: string; paused: boolean }
  | { type: 'detail'; id: string }
  | { type: 'seed'; filter: RunFilter };

export interface KeyResult {
  state: MonitorState;
  commands: Command[];
}

const none = (state: MonitorState): KeyResult => ({ state, commands: [] });
const is = (key: KeyPress, ...chars: string[]) => key.name === 'char' && !key.ctrl && chars.includes(key.char ?? '');

/** The keys, as shown by `?`. */
export const KEY_HELP: readonly [string, string][] = [
  ['↑ ↓  k j', 'move in the panel (PgUp PgDn, Home/g End/G)'],
  ['Tab  1 2 3', 'next panel / queues, workers, runs'],
  ['Enter', 'run: details  ·  queue: show its runs'],
  ['Esc', 'back; clears the filter'],
  ['/', 'filter runs: state:failed task:NAME queue:NAME error:TEXT payload.KEY:V since:1h, words'],
  ['r', 'retry the selected failed run'],
  ['c', 'cancel the selected run (asks first)'],
  ['p', 'pause / resume the selected queue'],
  ['?', 'this help'],
  ['q', 'quit'],
];

export function pressKey(state: MonitorState, key: KeyPress): KeyResult {
  if (key.ctrl && key.char === 'c') return quit(state);
  if (state.prompt?.kind === 'filter') return filterPrompt(state, key, state.prompt.text);
  if (state.prompt?.kind === 'confirm-cancel') {
    const { id } = state.prompt;
    const next = { ...state, prompt: undefined };
    if (is(key, 'y', 'Y'))
      return { state: withStatus(next, `cancelling run ${id}…`, 'info', state.now), commands: [{ type: 'cancel', id }] };
    return none(withStatus(next, `run ${id} left alone`, 'info', state.now));
  }
  if (state.mode === 'help') return is(key, 'q') ? quit(state) : none({ ...state, mode: state.detail ? 'detail' : 'main' });
  if (is(key, 'q')) return quit(state);
  if (is(key, '?')) return none({ ...state, mode: 'help' });
  return state.mode === 'detail' ? detailKey(state, key) : mainKey(state, key);
}

function quit(state: MonitorState): KeyResult {
  return { state: { ...state, quit: true }, commands: [{ type: 'quit' }] };
}

function filterPrompt(state: MonitorState, key: KeyPress, text: string): KeyResult {
  if (key.name === 'escape') return none({ ...state, prompt: undefined });
  if (key.name === 'backspace') return none({ ...state, prompt: { kind: 'filter', text: text.slice(0, -1) } });
  if (key.name === 'enter') {
    let filter: RunFilter;
    try {
      filter = parseFilter(text, new Date(state.now));
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      // The prompt stays open with what was typed, so the bad term can be fixed in place.
      return none(withStatus(state, `${err.message}${err.hint ? ` (${err.hint})` : ''}`, 'warn', state.now));
    }
    return applyFilter({ ...state, prompt: undefined }, filter);
  }
  if (key.name === 'char' && !key.ctrl && key.char && !/[\u0000-\u001f]/.test(key.char)) {
    return none({ ...state, prompt: { kind: 'filter', text: (text + key.char).slice(0, 200) } });
  }
  return none(state);
}

/** A new filter empties the list and asks for it to be read again from SQLite. */
function applyFilter(state: MonitorState, filter: RunFilter): KeyResult {
  if (filter.text === state.runs.filter.text) return none(state);
  const runs = { ...goLive(state.runs), filter, head: [], headComplete: false };
  const text = isFiltering(filter) ? `showing runs matching "${filter.text}"` : 'filter cleared: showing all runs';
  return { state: withStatus({ ...state, runs, focus: 'runs' }, text, 'info', state.now), commands: [{ type: 'seed', filter }] };
}

function mainKey(state: MonitorState, key: KeyPress): KeyResult {
  if (key.name === 'tab' || key.name === 'backTab') {
    const i = PANELS.indexOf(state.focus);
    const step = key.name === 'tab' ? 1 : PANELS.length - 1;
    return none({ ...state, focus: PANELS[(i + step) % PANELS.length]! });
  }
  if (is(key, '1', '2', '3')) return none({ ...state, focus: PANELS[Number(key.char) - 1]! });
  const move = movement(key, state);
  if (move !== undefined) return moveIn(state, state.focus, move);
  // Reopened, the prompt holds the current filter and a space: what is typed next is a new word
  // (`state:failed` + `task:resize`, not `state:failedtask:resize`); Backspace edits the old one.
  if (is(key, '/')) {
    const current = state.runs.filter.text;
    return none({ ...state, prompt: { kind: 'filter', text: current ? `${current} ` : '' } });
  }
  if (key.name === 'escape') return isFiltering(state.runs.filter) ? applyFilter(state, NO_FILTER) : none(state);
  if (is(key, 'p')) {
    const queue = selectedQueue(state);
    if (!queue) return none(withStatus(state, 'no queue to pause yet', 'warn', state.now));
    const verb = queue.paused ? 'resuming' : 'pausing';
    return {
      state: withStatus(state, `${verb} queue ${queue.name}…`, 'info', state.now),
      commands: [{ type: 'pause', queue: queue.name, paused: !queue.paused }],
    };
  }
  if (key.name === 'enter') {
    if (state.focus === 'queues') {
      const queue = selectedQueue(state);
      return queue ? applyFilter(state, queueFilter(queue.name)) : none(state);
    }
    if (state.focus === 'workers') {
      const worker = state.workers.find((w) => w.name === state.worker) ?? state.workers[0];
      const active = worker?.active[0];
      if (!active) return none(withStatus(state, `${worker?.name ?? 'no worker'} is running nothing right now`, 'info', state.now));
      return openDetail(state, active.id);
    }
    const run = selectedRun(state);
    return run ? openDetail(state, run.id) : none(state);
  }
  const run = selectedRun(state);
  if (is(key, 'r')) return run ? retry(state, run.id, run.state) : none(withStatus(state, 'select a run to retry', 'warn', state.now));
  if (is(key, 'c'))
    return run ? cancel(state, run.id, run.task, run.state) : none(withStatus(state, 'select a run to cancel', 'warn', state.now));
  return none(state);
}

function movement(key: KeyPress, state: MonitorState): RunsMove | undefined {
  const page = Math.max(1, layoutOf(state).runRows - 1);
  if (key.name === 'up' || is(key, 'k')) return -1;
  if (key.name === 'down' || is(key, 'j')) return 1;
  if (key.name === 'pageUp' || (key.ctrl && key.char === 'u')) return -page;
  if (key.name === 'pageDown' || (key.ctrl && key.char === 'd')) return page;
  if (key.name === 'home' || is(key, 'g')) return 'top';
  if (key.name === 'end' || is(key, 'G')) return 'bottom';
  return undefined;
}

function moveIn(state: MonitorState, panel: Panel, move: RunsMove): KeyResult {
  const layout = layoutOf(state);
  if (panel === 'runs') {
    const { runs, request } = moveRuns(state.runs, move, layout.runRows);
    return { state: { ...state, runs }, commands: request ? [request] : [] };
  }
  const names = panel === 'queues' ? state.queues.map((q) => q.name) : state.workers.map((w) => w.name);
  if (names.length === 0) return none(state);
  const current = Math.max(0, names.indexOf((panel === 'queues' ? state.queue : state.worker) ?? ''));
  const target = move === 'top' ? 0 : move === 'bottom' ? names.length - 1 : Math.max(0, Math.min(names.length - 1, current + move));
  if (panel === 'queues')
    return none({ ...state, queue: names[target], queueOffset: scrollTo(state.queueOffset, target, layout.queueRows, names.length) });
  return none({ ...state, worker: names[target], workerOffset: scrollTo(state.workerOffset, target, layout.workerRows, names.length) });
}

function openDetail(state: MonitorState, id: string): KeyResult {
  const row = [...(state.runs.frozen ?? []), ...state.runs.head].find((r) => r.id === id);
  return {
    state: { ...state, mode: 'detail', detail: { id, row, data: undefined, loading: true, scroll: 0 } },
    commands: [{ type: 'detail', id }],
  };
}

function detailKey(state: MonitorState, key: KeyPress): KeyResult {
  const detail = state.detail;
  if (!detail || key.name === 'escape' || key.name === 'backspace' || key.name === 'left')
    return none({ ...state, mode: 'main', detail: undefined });
  const run = detail.data ?? detail.row;
  if (is(key, 'r') && run) return retry(state, detail.id, run.state);
  if (is(key, 'c') && run) return cancel(state, detail.id, run.task, run.state);
  const move = movement(key, state);
  if (move === undefined) return none(state);
  const layout = layoutOf(state);
  const total = detail.data ? detailLines(detail.data, state.size.columns, state.now).length : 0;
  const max = Math.max(0, total - layout.bodyRows);
  const page = Math.max(1, layout.bodyRows - 1);
  const scroll =
    move === 'top'
      ? 0
      : move === 'bottom'
        ? max
        : Math.max(0, Math.min(max, detail.scroll + (Math.abs(move) > 1 ? Math.sign(move) * page : move)));
  return none({ ...state, detail: { ...detail, scroll } });
}

function retry(state: MonitorState, id: string, runState: TaskState): KeyResult {
  if (!FINAL_STATES.has(runState) || runState === 'completed') {
    return none(withStatus(state, `run ${id} is ${runState}; only failed runs can be retried`, 'warn', state.now));
  }
  return { state: withStatus(state, `retrying run ${id}…`, 'info', state.now), commands: [{ type: 'retry', id }] };
}

function cancel(state: MonitorState, id: string, task: string, runState: TaskState): KeyResult {
  if (FINAL_STATES.has(runState)) return none(withStatus(state, `run ${id} already ${runState}; nothing to cancel`, 'warn', state.now));
  return none({ ...state, prompt: { kind: 'confirm-cancel', id, task, state: runState } });
}
