import type { ResolvedConfig, Settings } from '../config/index.js';
import { RuntimeError } from '../core/errors.js';
import type { EnqueueOptions, PayloadOf, ResultOf, TaskMap, TqConfig } from '../core/task.js';
import type { Admin, Producer } from '../queue/index.js';
import type { Store } from '../store/index.js';
import { runInline } from './inline.js';
import { asUpload, clientMediaDir, enqueueFilesWith } from './files.js';
import type { ClientOptions, EnqueuedFile, FileInput, RunHandle, RunInfo, TqClient } from './types.js';

export type { ClientOptions, EnqueuedFile, FileInput, RunHandle, RunInfo, TqClient };
import { RunFailedError } from './run-failed.js';

export { RunFailedError };

/**
 * A client to enqueue and await runs from any Node program (a web server, a script), typed by
 * the application's config:
 *
 * ```ts
 * import config from './tasks.config.js';
 * const tq = createClient(config);
 * const run = await tq.enqueue('hello', { name: 'web' });
 * console.log(await run.wait({ timeout: '10s' }));
 * ```
 */
export function createClient<T extends TaskMap>(config: TqConfig<T>, options: ClientOptions = {}): TqClient<T> {
  if (options.inline) return runInline(config, options) as TqClient<T>;
  return new RemoteClient<T>(config, options);
}

class RemoteClient<T extends TaskMap> implements TqClient<T> {
  private parts: Promise<{ resolved: ResolvedConfig; settings: Settings; producer: Producer; admin: Admin }> | undefined;
  /** The same, once connected (an enqueue then skips an await). */
  private connected: { resolved: ResolvedConfig; settings: Settings; producer: Producer; admin: Admin } | undefined;
  private store: Store | undefined;

  constructor(
    private readonly config: TqConfig<T>,
    private readonly options: ClientOptions,
  ) {}

  private connect() {
    this.parts ??= (async () => {
      const [{ configFromObject, resolveSettings }, { Producer, Admin }] = await Promise.all([
        import('../config/index.js'),
        import('../queue/index.js'),
      ]);
      const dir = this.options.dir ?? process.cwd();
      const resolved = configFromObject(this.config as TqConfig, dir);
      const settings = resolveSettings(
        {
          ...(this.options.redis ? { redis: this.options.redis } : {}),
          ...(this.options.prefix ? { prefix: this.options.prefix } : {}),
          ...(this.options.db ? { db: this.options.db } : {}),
        },
        process.env,
        resolved,
        dir,
      );
      // History events of runs enqueued within 20 ms share one write (close() flushes the rest):
      // a server enqueueing as it handles requests pays one XADD per batch, not per run.
      const producer = await Producer.connect(resolved, { ...settings, eventBatchMs: 20 });
      const admin = await Admin.connect(resolved, settings);
      this.connected = { resolved, settings, producer, admin };
      return this.connected;
    })();
    return this.parts;
  }

  private async records() {
    const { settings } = await this.connect();
    if (!this.store) {
      const { openStore } = await import('../store/index.js');
      this.store = openStore(settings.dbFile);
    }
    return this.store;
  }

  async enqueue<K extends keyof T & string>(task: K, payload: PayloadOf<T[K]>, options: EnqueueOptions = {}) {
    const { producer } = this.connected ?? (await this.connect());
    if (options.id !== undefined) {
      // The same rule as `tq enqueue --id`: a run history still knows is not run again.
      const { runKnownToHistory } = await import('../runtime/known-run.js');
      const known = runKnownToHistory(await this.records(), options.id);
      if (known) return this.handle(known.id, known.queue, true) as RunHandle<ResultOf<T[K]>>;
    }
    const run = await producer.enqueue(task, payload, options);
    return this.handle(run.id, run.queue, run.existed) as RunHandle<ResultOf<T[K]>>;
  }

  async enqueueFiles<K extends keyof T & string>(taskName: K, files: readonly FileInput[], options: EnqueueOptions = {}) {
    const { resolved, producer } = this.connected ?? (await this.connect());
    const store = await this.records();
    const runs = await enqueueFilesWith(
      {
        taskName,
        task: resolved.tasks.get(taskName),
        media: clientMediaDir(resolved, this.options),
        records: store.records,
        enqueue: async (prepared, opts) => {
          const added =
            prepared.length === 1
              ? [await producer.enqueue(taskName, prepared[0]!.payload, opts)]
              : await producer.enqueueMany(prepared.map((p) => ({ task: taskName, payload: p.payload, options: opts })));
          return added.map((run) => this.handle(run.id, run.queue, run.existed));
        },
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
    const locate = async () => {
      const { admin } = await this.connect();
      if (knownQueue) return { admin, queue: knownQueue };
      const found = await admin.findRun(id);
      if (!found) throw new RuntimeError('E_NO_RUN', `no run ${id} in Redis`);
      return { admin, queue: found.queue };
    };
    return {
      id,
      queue: knownQueue ?? '',
      existed,
      state: async () => {
        const { admin, queue } = await locate();
        const job = await admin.queue(queue).getJob(id);
        if (!job) return 'unknown';
        const { runState } = await import('../queue/index.js');
        return runState(job, admin.queue(queue));
      },
      wait: async (options = {}) => {
        const { producer } = await this.connect();
        const { queue } = await locate();
        const { parseDuration } = await import('../core/duration.js');
        const timeoutMs = options.timeout !== undefined ? parseDuration(options.timeout, 'timeout') : undefined;
        const outcome = await producer.wait({ id, queue }, timeoutMs);
        if (outcome.state === 'completed') return outcome.result as never;
        if (outcome.state === 'timeout')
          throw new RunFailedError(id, outcome.lastState, `run ${id} is still ${outcome.lastState} after ${options.timeout}`);
        throw new RunFailedError(id, outcome.state, outcome.error);
      },
      cancel: async () => {
        const { admin } = await this.connect();
        await admin.cancel(id);
      },
      info: async (): Promise<RunInfo | undefined> => {
        const { admin } = await this.connect();
        const { runDetail } = await import('../queue/index.js');
        const detail = await runDetail(admin, id);
        if (!detail) return undefined;
        return runInfoOf(detail);
      },
    };
  }

  async close(): Promise<void> {
    if (this.parts) {
      // A connection that never came up has nothing to close; its error went to the call that made it.
      const parts = await this.parts.catch(() => undefined);
      await parts?.producer.close();
      await parts?.admin.close();
    }
    this.store?.close();
  }
}

/** The fields of a run's detail that `run(id).info()` promises (the `inspect task --json` shape). */
const RUN_INFO_KEYS = [
  'id',
  'task',
  'queue',
  'state',
  'payload',
  'result',
  'error',
  'attempt',
  'progress',
  'logs',
  'worker',
  'enqueuedAt',
  'startedAt',
  'finishedAt',
  'runtimeMs',
] as const satisfies readonly (keyof RunInfo)[];

function runInfoOf(detail: Pick<RunInfo, (typeof RUN_INFO_KEYS)[number]>): RunInfo {
  return Object.fromEntries(RUN_INFO_KEYS.map((key) => [key, detail[key]])) as unknown as RunInfo;
}
