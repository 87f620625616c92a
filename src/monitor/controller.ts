import { errorMessage } from '../core/errors.js';
import type { RunEvent } from '../core/run-events.js';
import { pressKey, type Command, type KeyPress } from './keys.js';
import { reduce, type MonitorEvent } from './reduce.js';
import type { MonitorSource } from './source.js';
import { CHART_MINUTES, HEAD_CAP, initialState, PAGE_SIZE, type MonitorState, type StatusLevel } from './state.js';
import { advance, cursorAtEnd, findGap, gapText, type StreamCursor } from './stream-cursor.js';
import type { RunFilter } from './filter.js';

/** Events read per XREAD; a refresh reads further batches only while they come back full. */
export const EVENTS_PER_READ = 1000;
const MAX_READS_PER_REFRESH = 10;
/** The per-minute charts come from SQLite; they change once a minute, so read them less often. */
const HISTORY_EVERY_MS = 5000;

export interface ControllerOptions {
  redisUrl: string;
  prefix: string;
  intervalMs: number;
  columns: number;
  rows: number;
  now?: () => number;
  /** Called after every refresh (the load check counts Redis commands per refresh with it). */
  onRefresh?: (info: { at: number; tookMs: number; events: number }) => void;
}

/**
 * Runs the monitor: refreshes every interval through the source, feeds what it reads to the
 * pure reducer, turns key presses into state changes and the commands they ask for, and tells
 * subscribers (the ink app) when the state changed. Knows nothing about the terminal.
 */
export class MonitorController {
  private state: MonitorState;
  private readonly listeners = new Set<() => void>();
  private readonly quitListeners = new Set<() => void>();
  private readonly now: () => number;
  private cursor: StreamCursor = { lastId: '0-0', addedUpTo: undefined };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private connected = true;
  private checkGap = false;
  private lastRefreshAt = 0;
  private lastHistoryAt = 0;

  constructor(
    private readonly source: MonitorSource,
    private readonly options: ControllerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.state = initialState({ ...options, now: this.now() });
  }

  getState = (): MonitorState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Called once when the user quits (the app unmounts then). */
  onQuit(listener: () => void): () => void {
    this.quitListeners.add(listener);
    return () => this.quitListeners.delete(listener);
  }

  dispatch(event: MonitorEvent): void {
    this.setState(reduce(this.state, event));
  }

  private setState(next: MonitorState): void {
    if (next === this.state) return;
    this.state = next;
    for (const l of this.listeners) l();
  }

  /**
   * Positions the stream cursor, seeds the runs from the history, and refreshes once. The
   * cursor is taken *before* the history is caught up: events after it are read from the
   * stream, and reading one twice is harmless (states never move backwards).
   */
  async start(options: { loop?: boolean } = {}): Promise<void> {
    this.cursor = cursorAtEnd(await this.source.streamInfo());
    await this.catchUp();
    this.seed(this.state.runs.filter);
    this.loadHistory(true);
    await this.refresh();
    if (options.loop !== false) this.schedule();
  }

  /** One refresh now (and the loop carries on from it). */
  async refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.refreshOnce().finally(() => {
      this.running = undefined;
    });
    await this.running;
    if (this.again && !this.closed) {
      this.again = false;
      await this.refresh();
    }
  }

  private async refreshOnce(): Promise<void> {
    const started = this.now();
    // Asleep or blocked for much longer than the interval: the stream may have moved past us.
    if (this.lastRefreshAt && started - this.lastRefreshAt > 5 * Math.max(this.options.intervalMs, 1000)) this.checkGap = true;
    this.lastRefreshAt = started;
    let events = 0;
    try {
      if (!this.connected) {
        await this.source.reconnect();
        this.connected = true;
        this.checkGap = true;
        this.dispatch({ type: 'connection', up: true, now: this.now() });
        this.status('reconnected to Redis', 'info');
      }
      if (this.checkGap) await this.gapCheck();
      const [snapshot, read] = await Promise.all([this.source.snapshot(), this.readEvents()]);
      events = read.length;
      if (read.length) this.dispatch({ type: 'events', events: read, now: this.now() });
      this.dispatch({ type: 'snapshot', ...snapshot, now: this.now() });
      this.loadHistory(false);
    } catch (err) {
      if (this.closed) return;
      this.connected = false;
      this.dispatch({ type: 'connection', up: false, detail: errorMessage(err), now: this.now() });
    }
    const now = this.now();
    this.dispatch({ type: 'refreshed', now });
    this.options.onRefresh?.({ at: now, tookMs: now - started, events });
  }

  private async readEvents(): Promise<RunEvent[]> {
    const out: RunEvent[] = [];
    for (let i = 0; i < MAX_READS_PER_REFRESH; i++) {
      const entries = await this.source.readEvents(this.cursor.lastId, EVENTS_PER_READ);
      this.cursor = advance(this.cursor, entries);
      for (const e of entries) out.push(...e.events);
      if (entries.length < EVENTS_PER_READ) return out;
    }
    // Still behind after this many: the stream may be outrunning us; look for a gap next time.
    this.checkGap = true;
    return out;
  }

  private async gapCheck(): Promise<void> {
    const info = await this.source.streamInfo();
    this.checkGap = false;
    const gap = findGap(this.cursor, info);
    if (!gap) return;
    // Start over from the stream's end, with the history (caught up first) for what was missed.
    this.cursor = cursorAtEnd(info);
    await this.catchUp();
    this.seed(this.state.runs.filter, gapText(gap), 'warn');
    this.loadHistory(true);
  }

  private async catchUp(): Promise<void> {
    try {
      await this.source.catchUp();
    } catch (err) {
      this.status(`history may be behind: ${errorMessage(err)}`, 'warn');
    }
  }

  private seed(filter: RunFilter, reason?: string, level?: StatusLevel): void {
    try {
      const rows = this.source.recent(filter, HEAD_CAP);
      this.dispatch({ type: 'seeded', rows, filterText: filter.text, reason, ...(level ? { level } : {}) });
    } catch (err) {
      this.status(`cannot read the history: ${errorMessage(err)}`, 'error');
    }
  }

  private loadHistory(force: boolean): void {
    const now = this.now();
    if (!force && now - this.lastHistoryAt < HISTORY_EVERY_MS) return;
    this.lastHistoryAt = now;
    try {
      this.dispatch({ type: 'history', stats: this.source.historyStats(CHART_MINUTES, now) });
    } catch (err) {
      this.status(`cannot read the history: ${errorMessage(err)}`, 'error');
    }
  }

  private schedule(): void {
    if (this.closed) return;
    const wait = Math.max(0, this.options.intervalMs - (this.now() - this.lastRefreshAt));
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, wait);
  }

  /** A message for the status line (the recorder's warnings come this way too). */
  status(text: string, level: StatusLevel = 'info'): void {
    this.dispatch({ type: 'status', text, level, now: this.now() });
  }

  resize(columns: number, rows: number): void {
    if (columns === this.state.size.columns && rows === this.state.size.rows) return;
    this.dispatch({ type: 'resize', columns, rows });
  }

  key(press: KeyPress): void {
    const { state, commands } = pressKey(this.state, press);
    this.setState(state);
    for (const c of commands) void this.run(c);
  }

  /** Carries out what a key asked for; every outcome ends in the status line. */
  async run(command: Command): Promise<void> {
    try {
      switch (command.type) {
        case 'quit':
          // Also in the state: a quit asked for (SIGTERM) before the screen was up still counts.
          this.setState({ ...this.state, quit: true });
          for (const l of this.quitListeners) l();
          return;
        case 'seed':
          this.seed(command.filter);
          return;
        case 'page': {
          const rows = this.source.recent(command.filter, PAGE_SIZE, { direction: command.direction, key: command.key });
          this.dispatch({ type: 'page', direction: command.direction, rows });
          return;
        }
        case 'detail': {
          try {
            const data = await this.source.detail(command.id);
            this.dispatch({
              type: 'detail',
              id: command.id,
              data,
              error: data ? undefined : `run ${command.id} is neither in Redis nor in the history`,
            });
          } catch (err) {
            this.dispatch({ type: 'detail', id: command.id, data: undefined, error: errorMessage(err) });
          }
          return;
        }
        case 'retry': {
          const { queue, task } = await this.source.retry(command.id);
          this.status(`retried ${task} run ${command.id}: waiting on queue ${queue}`);
          break;
        }
        case 'cancel': {
          const r = await this.source.cancel(command.id);
          this.status(
            r.outcome === 'removed'
              ? `cancelled run ${command.id} (was ${r.state} in queue ${r.queue})`
              : r.outcome === 'requested'
                ? `cancel requested for active run ${command.id}: its worker aborts it`
                : `run ${command.id} already ${r.state}; nothing to cancel`,
            r.outcome === 'finished' ? 'warn' : 'info',
          );
          break;
        }
        case 'pause':
          await this.source.setPaused(command.queue, command.paused);
          this.status(
            command.paused
              ? `paused queue ${command.queue}: workers take no new runs from it (p resumes)`
              : `resumed queue ${command.queue}`,
          );
          break;
      }
      // Show the effect now rather than at the next tick.
      void this.refresh();
    } catch (err) {
      this.status(errorMessage(err), 'error');
    }
  }

  /** Stops refreshing; waits for a refresh in flight so nothing touches closed connections. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
