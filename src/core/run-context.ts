import type { RecordsStore } from './records.js';
import type { EnqueueOptions, TaskContext, TaskLogger } from './task.js';

/** A progress value as handlers report it: a number 0..100 or a JSON object. */
export type ProgressValue = number | Record<string, unknown>;

/**
 * Where a run's context sends what the handler reports. Each executor has its own: a worker
 * writes to Redis and the run-event stream, the inline client keeps them on the run, an isolated
 * child sends them to its parent.
 */
export interface RunSinks {
  /**
   * A progress value that survived the throttle. `final` is true for the one written when the
   * run ends (the latest value not yet written), so a sink may skip what only matters mid-run.
   */
  progress(value: ProgressValue, final: boolean): void | Promise<void>;
  /** One `ctx.log` line, as text. */
  log(line: string): void | Promise<void>;
  /** `ctx.enqueue`: follow-up work. */
  enqueue(task: string, payload: unknown, options: EnqueueOptions | undefined): Promise<{ id: string }>;
}

export interface RunContextOptions {
  id: string;
  name: string;
  queue: string;
  attempt: number;
  /** The run's signal; read only when the handler asks (most never do, and each would cost). */
  signal: () => AbortSignal;
  db: RecordsStore;
  media: string;
  logger: TaskLogger;
  sinks: RunSinks;
  /**
   * Progress goes to its sink at most this often, trailing (the latest value wins), so a handler
   * may report as often as it likes. 0 sends every value at once.
   */
  progressIntervalMs: number;
}

/** How often a worker writes a run's progress at most (Redis and history). */
export const PROGRESS_INTERVAL_MS = 250;

const DONE = Promise.resolve();

/**
 * The handler's `ctx`, and `end()` to call when the run ends: it writes the latest progress not
 * yet written (as `final`) and from then on progress goes nowhere (a zombie handler, whose run
 * already ended, reports to nobody). `ctx` survives being taken apart or spread.
 */
export function createRunContext(options: RunContextOptions): { ctx: TaskContext; end: () => void } {
  const { sinks } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let latest: ProgressValue | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    if (latest === undefined) return;
    const value = latest;
    latest = undefined;
    void sinks.progress(value, false);
  };
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    timer = undefined;
    if (latest !== undefined) void sinks.progress(latest, true);
    latest = undefined;
  };
  const ctx: TaskContext = {
    id: options.id,
    name: options.name,
    queue: options.queue,
    attempt: options.attempt,
    get signal() {
      return options.signal();
    },
    progress: (value) => {
      if (ended) return DONE;
      if (options.progressIntervalMs <= 0) {
        return Promise.resolve(sinks.progress(value, false));
      }
      latest = value;
      timer ??= setTimeout(flush, options.progressIntervalMs);
      return DONE;
    },
    log: (line) => {
      const result = sinks.log(String(line));
      return result instanceof Promise ? result : DONE;
    },
    db: options.db,
    media: options.media,
    enqueue: (task, payload, enqueueOptions) => sinks.enqueue(task, payload, enqueueOptions),
    logger: options.logger,
  };
  return { ctx, end };
}
