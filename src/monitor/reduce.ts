import type { RunEvent } from '../core/run-events.js';
import { isFinalState } from '../core/states.js';
import type { QueueStats, WorkerStatus } from '../queue/index.js';
import { applyToDetail } from './detail.js';
import { scrollTo } from './layout.js';
import { applyToFrozen, applyToHead, applyToRow } from './run-list.js';
import { place, receivePage } from './runs-view.js';
import { HEAD_CAP, layoutOf, type HistoryStats, type MonitorState, type RunDetailData, type RunRow, type StatusLevel } from './state.js';
import { mergeWorkers, withConsumers } from './workers.js';

/** Data arriving at the monitor: everything that changes its state except key presses. */
export type MonitorEvent =
  /** The head was (re)read from SQLite for `filterText`; `reason` goes to the status line. */
  | { type: 'seeded'; rows: RunRow[]; filterText: string; reason?: string | undefined; level?: StatusLevel }
  | { type: 'events'; events: readonly RunEvent[]; now: number }
  | { type: 'snapshot'; queues: readonly QueueStats[]; workers: readonly WorkerStatus[]; now: number }
  | { type: 'history'; stats: HistoryStats }
  | { type: 'page'; direction: 'older' | 'newer'; rows: RunRow[] }
  | { type: 'detail'; id: string; data: RunDetailData | undefined; error?: string | undefined }
  | { type: 'status'; text: string; level: StatusLevel; now: number }
  | { type: 'connection'; up: boolean; detail?: string | undefined; now: number }
  | { type: 'refreshed'; now: number }
  | { type: 'resize'; columns: number; rows: number };

/** Seconds of per-second counts kept (the rate uses the last RATE_WINDOW_MS of them). */
const SECONDS_KEPT = 60;

export function reduce(state: MonitorState, event: MonitorEvent): MonitorState {
  switch (event.type) {
    case 'seeded': {
      if (event.filterText !== state.runs.filter.text) return state; // the filter changed meanwhile
      const runs = {
        ...state.runs,
        head: event.rows.slice(0, HEAD_CAP),
        frozen: undefined,
        cursor: 0,
        offset: 0,
        newSinceFrozen: 0,
        headComplete: event.rows.length < HEAD_CAP,
        olderExhausted: false,
        newerDropped: false,
        olderKey: undefined,
        newerKey: undefined,
        loading: undefined,
      };
      const next = { ...state, runs };
      return event.reason ? withStatus(next, event.reason, event.level ?? 'info', state.now) : next;
    }
    case 'events':
      return applyEvents(state, event.events, event.now);
    case 'snapshot': {
      const workers = mergeWorkers(state.workers, event.workers, event.now);
      const queues = withConsumers(event.queues, event.workers);
      return fitPanels({ ...state, now: event.now, queues, workers });
    }
    case 'history':
      return { ...state, history: event.stats };
    case 'page':
      return { ...state, runs: receivePage(state.runs, event.direction, event.rows, layoutOf(state).runRows) };
    case 'detail': {
      if (state.detail?.id !== event.id) return state;
      return { ...state, detail: { ...state.detail, data: event.data, loading: false, error: event.error } };
    }
    case 'status':
      return withStatus(state, event.text, event.level, event.now);
    case 'connection': {
      if (state.connection.up === event.up && state.connection.detail === event.detail) return state;
      return {
        ...state,
        now: event.now,
        connection: { up: event.up, detail: event.detail, since: event.up === state.connection.up ? state.connection.since : event.now },
      };
    }
    case 'refreshed':
      return { ...state, now: event.now, refreshedAt: event.now, refreshes: state.refreshes + 1 };
    case 'resize':
      return fitPanels({ ...state, size: { columns: event.columns, rows: event.rows } });
  }
}

export function withStatus(state: MonitorState, text: string, level: StatusLevel, now: number): MonitorState {
  return { ...state, status: { text, level, at: now } };
}

function applyEvents(state: MonitorState, events: readonly RunEvent[], now: number): MonitorState {
  if (events.length === 0) return state.now === now ? state : { ...state, now };
  const finished = events.filter((e) => isFinalState(e.type)).length;
  const second = Math.floor(now / 1000);
  const perSecond = state.finishedPerSecond.filter((s) => s.second > second - SECONDS_KEPT);
  if (finished > 0) {
    const last = perSecond[perSecond.length - 1];
    if (last?.second === second) perSecond[perSecond.length - 1] = { second, count: last.count + finished };
    else perSecond.push({ second, count: finished });
  }
  const head = applyToHead(state.runs.head, events, state.runs.filter);
  let runs = { ...state.runs, head: head.head, headComplete: state.runs.headComplete && !head.trimmed };
  if (runs.frozen) runs = { ...runs, frozen: applyToFrozen(runs.frozen, events), newSinceFrozen: runs.newSinceFrozen + head.added };
  let detail = state.detail;
  if (detail) {
    const mine = events.filter((e) => e.jobId === detail!.id);
    if (mine.length > 0) {
      detail = detail.data
        ? { ...detail, data: mine.reduce(applyToDetail, detail.data) }
        : { ...detail, row: mine.reduce<RunRow | undefined>(applyToRow, detail.row) };
    }
  }
  return { ...state, now, finishedPerSecond: perSecond, runs, detail };
}

/** After the data or the terminal changed size: selections stay on their items and in view. */
function fitPanels(state: MonitorState): MonitorState {
  const layout = layoutOf(state);
  const qIndex = Math.max(
    0,
    state.queues.findIndex((q) => q.name === state.queue),
  );
  const wIndex = Math.max(
    0,
    state.workers.findIndex((w) => w.name === state.worker),
  );
  return {
    ...state,
    queue: state.queues[qIndex]?.name ?? state.queue,
    queueOffset: scrollTo(state.queueOffset, qIndex, layout.queueRows, state.queues.length),
    worker: state.workers[wIndex]?.name ?? state.worker,
    workerOffset: scrollTo(state.workerOffset, wIndex, layout.workerRows, state.workers.length),
    runs: place(state.runs, layout.runRows),
  };
}

/** Finished runs per second over the last `windowMs` of the monitor clock. */
export function finishedRate(state: MonitorState, windowMs: number): number {
  const from = Math.floor((state.now - windowMs) / 1000);
  const count = state.finishedPerSecond.filter((s) => s.second > from).reduce((sum, s) => sum + s.count, 0);
  return count / (windowMs / 1000);
}
