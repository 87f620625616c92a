import type { ResolvedConfig, Settings } from '../config/index.js';
import { RedisUnavailableError, UsageError } from '../core/errors.js';
import type { EnqueueOptions, PayloadOf, ResultOf, TaskMap, TqConfig } from '../core/task.js';
import type { RecordsReader, Store } from '../store/index.js';
import { ClientConnection } from './connection.js';
import { runInline } from './inline.js';
import { asUpload, clientMediaDir, enqueueFilesWith } from './files.js';
import { clientImage, historyFilter, mediaFiles } from './readers.js';
import { remoteRunHandle, runInfoOf, type RunSources } from './run-handle.js';
import type {
  ClientImage,
  ClientOptions,
  EnqueuedFile,
  FileInput,
  HistoryQuery,
  HistoryReader,
  ImageQuery,
  ImagesReader,
  MediaFiles,
  RunHandle,
  RunInfo,
  TqClient,
} from './types.js';
import { RunFailedError } from './run-failed.js';

export type {
  ClientImage,
  ClientOptions,
  EnqueuedFile,
  FileInput,
  HistoryQuery,
  HistoryReader,
  ImageQuery,
  ImagesReader,
  MediaFiles,
  RunHandle,
  RunInfo,
  TqClient,
};
export { RunFailedError };

/**
 * A client to enqueue and await runs and to read records and history from any Node program (a
 * web server, a script), typed by the application's config. `config` is the config object, or
 * the path of the config file (relative to the working directory; loaded as the CLI loads it):
 *
 * ```ts
 * import config from './tasks.config.js';
 * const tq = createClient(config, { dir: import.meta.dirname });
 * const run = await tq.enqueue('hello', { name: 'web' });
 * console.log(await run.wait({ timeout: '10s' }));
 * ```
 *
 * It connects at the first call that needs Redis, reconnects by itself after an outage, and a
 * call made while Redis is down rejects at once with `RedisUnavailableError`.
 */
export function createClient<T extends TaskMap>(config: TqConfig<T> | string, options: ClientOptions = {}): TqClient<T> {
  if (options.inline) {
    if (typeof config === 'string') throw new UsageError('the inline client takes the config object (import it), not its path');
    return runInline(config, options) as TqClient<T>;
  }
  return new RemoteClient<T>(config, options);
}

class RemoteClient<T extends TaskMap> implements TqClient<T> {
  private resolving: Promise<{ resolved: ResolvedConfig; settings: Settings }> | undefined;
  private readonly connection = new ClientConnection(() => this.settings());
  private store: Store | undefined;
  private reader: RecordsReader | undefined;
  private readonly sources: RunSources = {
    connection: this.connection,
    fromHistory: (id) => this.fromHistory(id),
    historyFile: async () => (await this.settings()).settings.dbFile,
  };

  readonly images: ImagesReader = {
    get: async (id) => {
      const [reader, media] = await Promise.all([this.records(), this.media.dir()]);
      const record = reader.image(id);
      return record && clientImage(media, record);
    },
    list: async (query: ImageQuery = {}) => {
      const [reader, media] = await Promise.all([this.records(), this.media.dir()]);
      return reader.images(query).map((record) => clientImage(media, record));
    },
  };

  readonly history: HistoryReader = {
    get: (id) => this.fromHistory(id),
    search: async (query: HistoryQuery = {}) => {
      const filter = historyFilter(query);
      await this.catchUpHistory();
      return (await this.records()).runs(filter).map(runInfoOf);
    },
  };

  readonly media: MediaFiles = mediaFiles(async () => clientMediaDir((await this.settings()).resolved, this.options));

  constructor(
    private readonly config: TqConfig<T> | string,
    private readonly options: ClientOptions,
  ) {}

  /** The config and settings, resolved once (no Redis needed: reads work while it is down). */
  private settings() {
    this.resolving ??= (async () => {
      const { loadConfigInput, resolveConnection } = await import('../runtime/resolve.js');
      const resolved = await loadConfigInput(this.config as TqConfig | string, this.options);
      return { resolved, settings: resolveConnection(resolved, this.options) };
    })();
    return this.resolving;
  }

  /** The database, writable: `fromArgs` stores records, history is caught up into it. */
  private async writableStore(): Promise<Store> {
    const { settings } = await this.settings();
    if (!this.store) {
      const { openStore } = await import('../store/index.js');
      this.store = openStore(settings.dbFile, { prefix: settings.prefix });
    }
    return this.store;
  }

  /** The database, read-only, for the read APIs. */
  private async records(): Promise<RecordsReader> {
    const { settings } = await this.settings();
    if (!this.reader) {
      const { openReader } = await import('../store/index.js');
      this.reader = openReader(settings.dbFile, settings.prefix);
    }
    return this.reader;
  }

  /**
   * Brings this host's history up to date from Redis's run-event stream, as `tq inspect` does
   * (waiting briefly for a worker that records into the same file). With Redis down, history is
   * read as it stands: that is what it is for.
   */
  private async catchUpHistory(): Promise<void> {
    const { resolved, settings } = await this.settings();
    const store = await this.writableStore();
    await this.connection
      .call(async ({ producer }) => {
        const { catchUpHistory } = await import('../runtime/history.js');
        // This client's own events first (it batches them): what it enqueued is history too.
        await producer.flush();
        await catchUpHistory(store, producer.runEvents(), settings, resolved);
      })
      .catch((err: unknown) => {
        if (!(err instanceof RedisUnavailableError)) throw err;
      });
  }

  private async fromHistory(id: string): Promise<RunInfo | undefined> {
    await this.catchUpHistory();
    const run = (await this.records()).run(id);
    return run && runInfoOf(run);
  }

  async enqueue<K extends keyof T & string>(task: K, payload: PayloadOf<T[K]>, options: EnqueueOptions = {}) {
    if (options.id !== undefined) {
      // The same rule as `tq enqueue --id`: a run history still knows is not run again.
      const { runKnownToHistory } = await import('../runtime/known-run.js');
      const known = runKnownToHistory(await this.writableStore(), options.id);
      if (known) return this.handle(known.id, known.queue, true) as RunHandle<ResultOf<T[K]>>;
    }
    const run = await this.connection.call(({ producer }) => producer.enqueue(task, payload, options));
    return this.handle(run.id, run.queue, run.existed) as RunHandle<ResultOf<T[K]>>;
  }

  async enqueueFiles<K extends keyof T & string>(taskName: K, files: readonly FileInput[], options: EnqueueOptions = {}) {
    const { resolved } = await this.settings();
    const store = await this.writableStore();
    const runs = await enqueueFilesWith(
      {
        taskName,
        task: resolved.tasks.get(taskName),
        media: clientMediaDir(resolved, this.options),
        records: store.records,
        enqueue: (prepared, opts) =>
          this.connection.call(async ({ producer }) => {
            const added =
              prepared.length === 1
                ? [await producer.enqueue(taskName, prepared[0]!.payload, opts)]
                : await producer.enqueueMany(prepared.map((p) => ({ task: taskName, payload: p.payload, options: opts })));
            return added.map((run) => this.handle(run.id, run.queue, run.existed));
          }),
      },
      files,
      options,
    );
    return runs as EnqueuedFile<ResultOf<T[K]>>[];
  }

  async uploadImage(file: FileInput, options: EnqueueOptions & { task?: string } = {}) {
    const { task = 'resize', ...enqueueOptions } = options;
    return asUpload(await this.enqueueFiles(task, [file], enqueueOptions), task);
  }

  run(id: string): RunHandle {
    return this.handle(id, undefined, true);
  }

  private handle(id: string, knownQueue: string | undefined, existed: boolean): RunHandle {
    return remoteRunHandle(this.sources, id, knownQueue, existed);
  }

  async close(): Promise<void> {
    await this.connection.close();
    this.reader?.close();
    this.store?.close();
  }
}
