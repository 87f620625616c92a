import type { RunInfo } from '../core/run-info.js';
import type { ImageRecord, ImageStatus } from '../core/records.js';
import type { TaskState } from '../core/states.js';
import type { EnqueueOptions, PayloadOf, ResultOf, TaskLogger, TaskMap } from '../core/task.js';

export interface ClientOptions {
  /** Redis URL (else TQ_REDIS_URL, the config's `redis`, then redis://127.0.0.1:6379). */
  redis?: string;
  /** Key prefix (else TQ_PREFIX, the config's `prefix`, then `tq`). */
  prefix?: string;
  /**
   * SQLite file for records and history, relative to the working directory (else TQ_DB, the
   * config's `db` relative to the config file, then `.tq/<prefix>.db` (`.tq/tq.db`) beside the config file).
   */
  db?: string;
  /**
   * The directory of the config file, for a config given as an object (an object does not know
   * where it was written; the CLI resolves the config's `media` and `db` against the file's
   * directory, and so does the client against this). Default: the directory of TQ_CONFIG when
   * set, else the working directory. `import.meta.dirname` of the module that imports the
   * config is the usual value. Not needed when `createClient` is given the config file's path.
   */
  dir?: string;
  /**
   * Where files given to `enqueueFiles`/`uploadImage` are stored, relative to the working
   * directory (else the config's `media`). Workers must see the same directory. The inline
   * client uses a temporary directory, removed by `close()`, unless `media` or `dir` is given.
   */
  media?: string;
  /**
   * Run handlers in this process at enqueue time, without Redis (Celery's task_always_eager):
   * for your own unit tests. Records go to `db` (default: an in-memory database).
   */
  inline?: boolean;
  /**
   * Where the inline client's handlers log (`ctx.logger`) and where it warns (a `retryOn` that
   * threw). Default: warnings on stderr, info nowhere.
   */
  logger?: TaskLogger;
}

export type { RunInfo } from '../core/run-info.js';

/** A file to enqueue: a path (relative to the working directory), or bytes with the name they were uploaded under. */
export type FileInput = string | { data: Buffer | Uint8Array; filename: string };

/** One run made of files by `enqueueFiles`. */
export interface EnqueuedFile<R = unknown> {
  /** The file as given: its path, or the `filename` of bytes. */
  readonly file: string;
  /** The record the task stored for the file (`img_...` for resize), when it stores one. */
  readonly recordId: string | undefined;
  /** Everything the task's `fromArgs` reported for the run (`recordId` among it). */
  readonly meta: Readonly<Record<string, unknown>>;
  readonly run: RunHandle<R>;
}

/** A run that was enqueued: its id, and ways to follow, await or cancel it. */
export interface RunHandle<R = unknown> {
  readonly id: string;
  readonly queue: string;
  /** True when a run with this id (or dedupe key) already existed and nothing was added. */
  readonly existed: boolean;
  /** The run's state now: Redis's, else history's once Redis no longer has it, else `'unknown'`. */
  state(): Promise<TaskState | 'unknown'>;
  /**
   * Resolves with the result; rejects with the task's error (or on timeout). A run Redis no
   * longer has is answered from history.
   */
  wait(options?: { timeout?: number | string }): Promise<R>;
  /** Cancels the run (removes it when waiting/delayed, aborts it when active). */
  cancel(): Promise<void>;
  /** Everything known about the run now (from Redis, else history); undefined when neither knows it. */
  info(): Promise<RunInfo | undefined>;
}

/** An image record with the files it names, absolute, for serving them. */
export interface ClientImage extends ImageRecord {
  /** The original's absolute path (`original_path` under the media directory). */
  readonly originalFile: string;
  /** The thumbnail's absolute path, or null until the image is processed. */
  readonly resizedFile: string | null;
}

/** Which image records `images.list` returns. */
export interface ImageQuery {
  status?: ImageStatus;
  /** Default 50. */
  limit?: number;
}

/** The filters of `tq inspect history`; all optional, combined with AND. */
export interface HistoryQuery {
  state?: TaskState;
  task?: string;
  queue?: string;
  /** Runs enqueued since: a duration back from now (`'1h'`, ms, as `--since`) or a Date. */
  since?: string | number | Date;
  /** Runs whose payload, result or error contains this text, case-insensitive (`--search`). */
  text?: string;
  /** Default 20, at most 10000. */
  limit?: number;
}

/** Image records (the `images` table), read-only. */
export interface ImagesReader {
  get(id: string): Promise<ClientImage | undefined>;
  /** Newest upload first. */
  list(query?: ImageQuery): Promise<ClientImage[]>;
}

/** The durable run history (the `task_runs` table), read-only; it outlives Redis's retention. */
export interface HistoryReader {
  get(id: string): Promise<RunInfo | undefined>;
  /** Newest first. */
  search(query?: HistoryQuery): Promise<RunInfo[]>;
}

/** The media directory (originals and thumbnails). */
export interface MediaFiles {
  /** The media directory, absolute. */
  dir(): Promise<string>;
  /** The absolute path of a media-relative path (`resized_path` of a record); refuses one that leaves the directory. */
  path(relative: string): Promise<string>;
}

export interface TqClient<T extends TaskMap> {
  /** Enqueues a run of `task`; the payload and result types come from the task definition. */
  enqueue<K extends keyof T & string>(task: K, payload: PayloadOf<T[K]>, options?: EnqueueOptions): Promise<RunHandle<ResultOf<T[K]>>>;
  /**
   * Enqueues files for a task that takes them (one with `fromArgs`, such as `resize`), as
   * `tq enqueue <task> <files...>` does: each file is stored in media with its record and gets
   * a run. Several files go in one bulk add. When the enqueue fails, the records it stored are
   * marked `failed` with the reason before the error is thrown.
   */
  enqueueFiles<K extends keyof T & string>(
    task: K,
    files: readonly FileInput[],
    options?: EnqueueOptions,
  ): Promise<EnqueuedFile<ResultOf<T[K]>>[]>;
  /**
   * What a web server handling an upload needs in one call: `enqueueFiles` of one file for
   * the `resize` task (or `options.task`), returning its image record id and run.
   */
  uploadImage(file: FileInput, options?: EnqueueOptions & { task?: string }): Promise<{ recordId: string; run: RunHandle }>;
  /** A handle for a run enqueued earlier (by id). */
  run(id: string): RunHandle;
  /** Image records, as stored by `uploadImage` and updated by the workers. */
  readonly images: ImagesReader;
  /** The durable history of runs. */
  readonly history: HistoryReader;
  /** Where stored files are. */
  readonly media: MediaFiles;
  close(): Promise<void>;
}
