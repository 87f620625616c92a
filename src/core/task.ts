/**
 * Terminology
 * - task:     a named unit of work defined in `tasks.config.ts` (`resize`, `cleanup`): a handler
 *             and its options.
 * - run:      one execution request of a task, with its payload; a BullMQ job. It has an id and
 *             moves through the states in `states.ts`.
 * - attempt:  one try at a run; a run has up to `attempts` of them.
 * - queue:    a named line of runs; workers consume one or more queues.
 * - worker:   a process (`tq worker`) that takes runs from its queues and calls the handlers.
 * - schedule: a rule in the config that makes `tq beat` enqueue a task periodically.
 * - prefix:   the Redis key namespace of one application (`tq` by default).
 * - app:      the application a config belongs to (its `name`, else its package.json's name);
 *             every run tq enqueues carries it, and a worker runs no other application's runs.
 * - recorder: the loop that applies run events from Redis to the SQLite history.
 */
import type { RecordsStore } from './records.js';
import type { StandardSchemaV1 } from './schema.js';

export const DEFAULT_QUEUE = 'default';

/** Per-enqueue options, from the CLI flags or the client API. */
export interface EnqueueOptions {
  queue?: string;
  /** Milliseconds, or a duration such as `10s`. */
  delay?: number | string;
  /** Run at this time (ISO string or Date). */
  at?: string | Date;
  priority?: number;
  attempts?: number;
  /** Custom run id: a second enqueue with the same id is a no-op. */
  id?: string;
  /** Never start after this long from now (`1h`): the run ends `expired` instead. */
  expires?: number | string;
  /** Time limit for this run, overriding the task's `timeout`. */
  timeLimit?: number | string;
}

export interface TaskLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** What a handler receives beside its payload. */
export interface TaskContext {
  /** Run id. */
  readonly id: string;
  /** Task name. */
  readonly name: string;
  readonly queue: string;
  /** Attempt number, from 1. */
  readonly attempt: number;
  /** Aborted on cancel, time limit or forced shutdown: pass it to fetch(), streams, timers. */
  readonly signal: AbortSignal;
  /** Reports progress: a number 0..100 or a JSON object. */
  progress(value: number | Record<string, unknown>): Promise<void>;
  /** Appends a line to the run's log (kept with the run, shown by inspect). */
  log(line: string): Promise<void>;
  /** The records store (SQLite) of this host. */
  readonly db: RecordsStore;
  /** Absolute path of the media directory. */
  readonly media: string;
  /** Enqueues follow-up work. */
  enqueue(task: string, payload?: unknown, options?: EnqueueOptions): Promise<{ id: string }>;
  readonly logger: TaskLogger;
}

export interface BackoffOptions {
  type: 'exponential' | 'fixed';
  /** Base delay: ms or a duration (`5s`). */
  delay: number | string;
  /** 0..1: share of each delay that is randomised. */
  jitter?: number;
  /** Upper bound for exponential growth. */
  maxDelay?: number | string;
}

/** Options every task accepts (see the README's task-options table for exact semantics). */
export interface TaskOptions {
  /** Queue name, default `default`. */
  queue?: string;
  /** Total attempts, default 1. */
  attempts?: number;
  backoff?: BackoffOptions;
  /** Whether an error is worth another attempt (default: every error except FatalTaskError). */
  retryOn?: (err: unknown) => boolean;
  /** Time limit per attempt (`30s`). */
  timeout?: number | string;
  /** Run the handler in a child process that can be killed hard at the time limit. */
  isolate?: boolean;
  /** `'10/s'`, `'100/m'`, `'1000/h'` across all workers. */
  rateLimit?: string;
  /** Lower runs first. */
  priority?: number;
  /** A run not started this long after it was enqueued is never executed. */
  expires?: number | string;
  /** At most one pending run per key. */
  dedupe?: { key: (payload: any) => string; ttl?: number | string };
  /** Payload validator (Standard Schema: zod, valibot, ...): invalid payloads are refused at enqueue. */
  schema?: StandardSchemaV1;
  /**
   * Names that map CLI positionals onto the payload: `args: ['name']`. Each is required on the
   * command line unless it ends with `?` (`args: ['olderThan?']`: the payload key is
   * `olderThan`, and the handler has a default). A task with `args` takes a JSON object.
   */
  args?: readonly string[];
  /** How many finished runs Redis keeps for this task (SQLite history keeps them all). */
  keep?: number;
  /** One line shown by `tq inspect registered` and `--help`. */
  description?: string;
}

/** What `fromArgs` may use to turn command-line arguments into runs. */
export interface CliInputContext {
  readonly cwd: string;
  readonly media: string;
  readonly db: RecordsStore;
  /** Called after each argument is handled (drives the progress bar). */
  readonly tick: () => void;
}

export interface PreparedRun<P> {
  payload: P;
  /** Extra fields for the enqueue output (e.g. `recordId`). */
  meta?: Record<string, unknown>;
  /** What the argument was (a file name), for messages. */
  label?: string;
}

/** The options every task takes (`TaskOptions`), in the order error messages list them. */
export const TASK_OPTION_KEYS = [
  'queue',
  'attempts',
  'backoff',
  'retryOn',
  'timeout',
  'isolate',
  'rateLimit',
  'priority',
  'expires',
  'dedupe',
  'schema',
  'args',
  'keep',
  'description',
] as const satisfies readonly (keyof TaskOptions)[];
// Fails to compile when TaskOptions gains a key this list does not name: the list cannot drift.
const everyTaskOption: [Exclude<keyof TaskOptions, (typeof TASK_OPTION_KEYS)[number]>] extends [never] ? true : never = true;
void everyTaskOption;

export interface TaskDefinition<P = any, R = any> extends TaskOptions {
  run(payload: P, ctx: TaskContext): R | Promise<R>;
  /**
   * Turns `tq enqueue <task> [args...]` positionals into one or more runs. Without it,
   * positionals map onto `args` names.
   */
  fromArgs?(args: string[], ctx: CliInputContext): Promise<PreparedRun<P>[]>;
  /**
   * Loads what `run` needs (a native module, a model, a connection) once, when a worker that
   * serves this task's queue starts, before it takes its first run: the first run is then as
   * fast as the rest. A failure is logged and left for the first run to meet.
   */
  warmup?(): Promise<void>;
}

/** What `tq beat` does with fire times that passed while no beat was running (README: Periodic tasks). */
export type MissedPolicy = 'skip' | 'latest' | 'all';

/** A periodic run of a task, dispatched by `tq beat`. Give exactly one of `cron` and `every`. */
export interface ScheduleDefinition {
  task: string;
  /** 5 fields (`0 3 * * *`), 6 with leading seconds, or an alias (`@daily`); read in `tz`. */
  cron?: string;
  /** A period (`'30s'`, `'5m'`, `'1h'`, or ms, at least 1 s); fire times are multiples of it since the Unix epoch. */
  every?: string | number;
  /** The payload of every run (JSON), default `{}`. */
  payload?: unknown;
  /** Overrides the task's queue. */
  queue?: string;
  /** Overrides the task's priority. */
  priority?: number;
  /** IANA zone for `cron`; default the config's `timezone`, else the system zone. */
  tz?: string;
  /** `false` keeps the schedule defined but never fires it; default true. */
  enabled?: boolean;
  /** Default `latest`. */
  missed?: MissedPolicy;
}

export interface HistoryOptions {
  /** How long finished runs stay in SQLite (`30d`); default: forever. */
  keep?: string | number;
  /** Payload keys masked before storing (`['password', 'token']`). */
  redact?: string[];
  /** Approximate length cap of the run-event stream in Redis, default 100000. */
  streamMaxLen?: number;
  /**
   * A run whose history row has not moved for this long is checked against Redis (its end
   * events may have died with a killed process); default 60s. Bounds how long history can be
   * wrong after a crash.
   */
  reconcileAfter?: string | number;
}

export interface WorkerDefaults {
  concurrency?: number;
  shutdownTimeout?: string | number;
  /** How long a run of a task this worker does not know is put back before it fails. */
  unknownTaskGrace?: string | number;
  /**
   * Handlers still running after their time limit or cancel ("zombies": they ignored
   * ctx.signal) a worker tolerates before it shuts down warmly to be restarted. Default 3.
   */
  maxZombies?: number;
  /**
   * How long a worker's claim on a run lasts without renewal (renewed every half of it). A
   * worker that dies mid-run gives its runs back after about this long. Default 20s.
   */
  lockDuration?: string | number;
  /** How often workers look for runs whose worker died. Default 10s. */
  stalledInterval?: string | number;
  /** How many times a run may be recovered from a dead worker before it fails. Default 20. */
  maxStalledCount?: number;
  /**
   * How long a handler may block the event loop (never yield) before the worker process is
   * ended so its runs are recovered elsewhere (a run whose time limit passes while it blocks
   * ends its worker at the limit). Until then the runs' locks are kept. Default 5m.
   */
  maxBlocked?: string | number;
  /**
   * How far this host's clock may be from the Redis server's before a worker or beat refuses to
   * start (exit 2): delayed runs and retries are promoted on workers' clocks. `false` turns the
   * check off (the offset is still warned about past 1 s). Default 30s.
   */
  maxClockOffset?: string | number | false;
}

/** The `redis` section of the config when it says more than the URL. */
export interface RedisConfig {
  /** The Redis URL (a flag or `TQ_REDIS_URL` wins over it). */
  url?: string;
  /**
   * Let workers and producers run on a Redis whose `maxmemory-policy` may evict keys (anything
   * but `noeviction` with a `maxmemory`). Default false: they refuse to start, because an
   * evicted run is lost and an evicted lock runs a run twice.
   */
  allowEviction?: boolean;
}

export type TaskMap = Record<string, TaskDefinition<any, any>>;

export interface TqConfig<T extends TaskMap = TaskMap> {
  tasks: T;
  schedules?: Record<string, ScheduleDefinition>;
  /** IANA zone for schedules, default: the system zone. */
  timezone?: string;
  /** Directory for originals and thumbnails, default `media`. */
  media?: string;
  /** The Redis URL, or `{ url, allowEviction }` (see `RedisConfig`). */
  redis?: string | RedisConfig;
  db?: string;
  prefix?: string;
  /**
   * The application's name (default for a config file: the `name` of the package.json nearest
   * it; a config passed as an object has none unless given).
   * Every run tq enqueues carries it; a worker leaves other applications' runs alone and refuses
   * to start on a prefix another application's workers consume.
   */
  name?: string;
  history?: HistoryOptions;
  /** Largest payload accepted at enqueue, bytes; default 1 MiB. */
  payloadLimit?: number;
  /** Largest result a handler may return, bytes (a bigger one fails its run); default 1 MiB. */
  resultLimit?: number;
  worker?: WorkerDefaults;
}

/** Declares a task; the identity function that gives editors the types. */
export function defineTask<P = any, R = any>(definition: TaskDefinition<P, R>): TaskDefinition<P, R> {
  return definition;
}

/** Declares the application's configuration (the default export of `tasks.config.ts`). */
export function defineConfig<T extends TaskMap>(config: TqConfig<T>): TqConfig<T> {
  return config;
}

/** Payload type of a task definition. */
export type PayloadOf<D> = D extends TaskDefinition<infer P, any> ? P : never;
/** Result type of a task definition. */
export type ResultOf<D> = D extends TaskDefinition<any, infer R> ? Awaited<R> : never;

/** One `args` entry read: the payload key it fills, and whether a run may go without it. */
export interface ArgSpec {
  readonly key: string;
  readonly optional: boolean;
}

/** Reads an `args` entry: `'name'` is required, `'name?'` optional. */
export function argSpec(entry: string): ArgSpec {
  return entry.endsWith('?') ? { key: entry.slice(0, -1), optional: true } : { key: entry, optional: false };
}

/** `<name> [olderThan]`: how a task's `args` read in a usage line. */
export function argsUsage(args: readonly string[]): string {
  return args
    .map(argSpec)
    .map((a) => (a.optional ? `[${a.key}]` : `<${a.key}>`))
    .join(' ');
}

/** What kind of JSON value `payload` is, for messages: `an array`, `a string`, `null`. */
function jsonKind(payload: unknown): string {
  if (payload === null) return 'null';
  if (Array.isArray(payload)) return 'an array';
  return typeof payload === 'object' ? 'an object' : `a ${typeof payload}`;
}

/**
 * The problem with `payload` for a task whose payload is a JSON object (one with `args`, whose
 * positionals become keys, or `fromArgs`), or undefined when there is none: `[1,2]`, `"str"`
 * or `null` would reach the handler as something it cannot read.
 */
export function payloadShapeProblem(
  task: { name: string; args: readonly string[]; takesFiles: boolean },
  payload: unknown,
): string | undefined {
  if (task.args.length === 0 && !task.takesFiles) return undefined;
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) return undefined;
  return `task "${task.name}" takes a JSON object as payload, got ${jsonKind(payload)}`;
}
