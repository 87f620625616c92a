/**
 * The monitor's state: everything the screen shows, as plain data. It changes only through
 * `reduce` (data arriving) and `pressKey` (the user), both pure, so every behaviour of the
 * monitor can be tested without Redis, SQLite or a terminal.
 *
 * Terminology
 * - run:       one execution request of a task (a BullMQ job), known by its run id.
 * - run event: a transition of a run (`RunEvent`), read from the prefix's run-event stream.
 * - refresh:   one round of reads every `--interval`: queue counts, worker heartbeats, and the
 *              run events that arrived since the last round.
 * - head:      the runs that changed most recently (at most `HEAD_CAP`), kept current by run
 *              events and seeded from the SQLite history.
 * - view:      what the Runs panel lists. While the cursor is on the top row the view *is* the
 *              head ("live"); once the user moves down, the view freezes so rows stop moving
 *              under the cursor, and pages of older history are appended from SQLite as the
 *              user scrolls past its end.
 */
import type { TaskState } from '../core/states.js';
import type { QueueStats, WorkerStatus } from '../queue/index.js';
import type { MinuteCount } from '../store/index.js';
import { NO_FILTER, type RunFilter } from './filter.js';
import { screenLayout, type ScreenLayout } from './layout.js';

/** Runs kept live in memory, however long the monitor runs. */
export const HEAD_CAP = 500;
/** Rows a browsed view may hold (head copy plus pages); beyond it, the far end is dropped. */
export const VIEW_CAP = 2000;
/** Runs read from SQLite per page. */
export const PAGE_SIZE = 100;
/** How long a worker that stopped heartbeating stays listed as offline before it drops off. */
export const OFFLINE_LINGER_MS = 60_000;
/** The window "throughput now" is measured over. */
export const RATE_WINDOW_MS = 10_000;
/** Minutes of per-minute history charts. */
export const CHART_MINUTES = 30;

export type Panel = 'queues' | 'workers' | 'runs';
export const PANELS: readonly Panel[] = ['queues', 'workers', 'runs'];

/** One line of the Runs panel. */
export interface RunRow {
  id: string;
  task: string;
  queue: string;
  state: TaskState;
  /** Attempts started so far. */
  attempt: number;
  /** When the run reached its current state (epoch ms): the list's order. */
  changedAt: number;
  runtimeMs?: number | undefined;
  worker?: string | undefined;
  error?: string | undefined;
}

/** A page position in the history: a run's last-change time and its id. */
export interface RowKey {
  at: number;
  id: string;
}

export interface WorkerRow extends WorkerStatus {
  /** Monitor clock when this worker was last listed live. */
  seenAt: number;
  /** Set once its heartbeat is gone: when the monitor noticed. */
  offlineSince?: number | undefined;
}

/** Everything about one run, for the detail view. Times are epoch ms. */
export interface RunDetailData {
  id: string;
  task: string;
  queue: string;
  state: TaskState;
  attempt: number;
  worker: string | null;
  payload: unknown;
  result: unknown;
  error: string | null;
  stack: string | null;
  /** Every failed attempt's error. */
  errors: { attempt: number; error: string; at: string }[];
  progress: unknown;
  logs: string[];
  enqueuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  runtimeMs: number | null;
  dueAt: number | null;
  /** Where it was read from: Redis still has the run, or only the history does. */
  source: 'redis' | 'history';
}

export interface DetailState {
  id: string;
  /** The list row it was opened from, shown while the full detail loads. */
  row: RunRow | undefined;
  data: RunDetailData | undefined;
  loading: boolean;
  error?: string | undefined;
  /** First line shown (the detail scrolls). */
  scroll: number;
}

export interface RunsState {
  head: RunRow[];
  /** The frozen view while browsing; undefined while live. */
  frozen: RunRow[] | undefined;
  cursor: number;
  offset: number;
  filter: RunFilter;
  /** Runs that entered the head since the view froze (shown as "N new"). */
  newSinceFrozen: number;
  /** The head holds every run SQLite had when it was seeded, and none has fallen off since. */
  headComplete: boolean;
  /** SQLite has nothing older than the frozen view's last row. */
  olderExhausted: boolean;
  /** Rows newer than the view's first row were dropped (VIEW_CAP): scrolling up pages them back. */
  newerDropped: boolean;
  /** Keys to page from (the last row read from SQLite may differ from the view's own keys). */
  olderKey: RowKey | undefined;
  newerKey: RowKey | undefined;
  loading: 'older' | 'newer' | undefined;
}

export type StatusLevel = 'info' | 'warn' | 'error';

export interface StatusLine {
  text: string;
  level: StatusLevel;
  at: number;
}

export type Prompt = { kind: 'filter'; text: string } | { kind: 'confirm-cancel'; id: string; task: string; state: TaskState };

export interface HistoryStats {
  /** Finished runs per minute, all queues, oldest first. */
  minutes: MinuteCount[];
  byQueue: Record<string, MinuteCount[]>;
  failedLastHour: number;
}

export interface MonitorState {
  /** What the header names (the URL has its password masked). */
  redisUrl: string;
  prefix: string;
  intervalMs: number;
  /** Monitor clock of the latest data (ages are measured against it). */
  now: number;
  size: { columns: number; rows: number };
  mode: 'main' | 'detail' | 'help';
  focus: Panel;
  queues: QueueStats[];
  /** Selected queue, by name (rows move as queues appear). */
  queue: string | undefined;
  queueOffset: number;
  workers: WorkerRow[];
  worker: string | undefined;
  workerOffset: number;
  runs: RunsState;
  detail: DetailState | undefined;
  history: HistoryStats;
  /** Finished runs seen on the stream, per monitor-clock second (for "throughput now"). */
  finishedPerSecond: { second: number; count: number }[];
  prompt: Prompt | undefined;
  status: StatusLine | undefined;
  connection: { up: boolean; detail?: string | undefined; since: number };
  /** When the last refresh completed (monitor clock); undefined before the first. */
  refreshedAt: number | undefined;
  refreshes: number;
  /** The user asked to quit. */
  quit: boolean;
}

export interface InitialStateOptions {
  redisUrl: string;
  prefix: string;
  intervalMs: number;
  now: number;
  columns: number;
  rows: number;
}

export function initialState(o: InitialStateOptions): MonitorState {
  return {
    redisUrl: o.redisUrl,
    prefix: o.prefix,
    intervalMs: o.intervalMs,
    now: o.now,
    size: { columns: o.columns, rows: o.rows },
    mode: 'main',
    focus: 'runs',
    queues: [],
    queue: undefined,
    queueOffset: 0,
    workers: [],
    worker: undefined,
    workerOffset: 0,
    runs: {
      head: [],
      frozen: undefined,
      cursor: 0,
      offset: 0,
      filter: NO_FILTER,
      newSinceFrozen: 0,
      headComplete: false,
      olderExhausted: false,
      newerDropped: false,
      olderKey: undefined,
      newerKey: undefined,
      loading: undefined,
    },
    detail: undefined,
    history: { minutes: [], byQueue: {}, failedLastHour: 0 },
    finishedPerSecond: [],
    prompt: undefined,
    status: undefined,
    connection: { up: true, since: o.now },
    refreshedAt: undefined,
    refreshes: 0,
    quit: false,
  };
}

/** The rows the Runs panel lists now. */
export function visibleRuns(state: MonitorState): RunRow[] {
  return state.runs.frozen ?? state.runs.head;
}

/** The run under the cursor, if any. */
export function selectedRun(state: MonitorState): RunRow | undefined {
  return visibleRuns(state)[state.runs.cursor];
}

export function selectedQueue(state: MonitorState): QueueStats | undefined {
  return state.queues.find((q) => q.name === state.queue) ?? state.queues[0];
}

export function selectedWorker(state: MonitorState): WorkerRow | undefined {
  return state.workers.find((w) => w.name === state.worker) ?? state.workers[0];
}

/**
 * The screen's division for this state (panel heights depend on the terminal and the data);
 * `natural` for a one-shot snapshot, where nothing scrolls.
 */
export function layoutOf(state: MonitorState, natural = false): ScreenLayout {
  return screenLayout(natural ? undefined : state.size.rows, {
    queues: state.queues.length,
    workers: state.workers.length,
    runs: visibleRuns(state).length,
  });
}
