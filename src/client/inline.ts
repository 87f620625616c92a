import type { ResolvedConfig } from '../config/index.js';
import { configFromObject } from '../config/index.js';
import { parseDuration } from '../core/duration.js';
import { errorMessage, UsageError } from '../core/errors.js';
import { assertJsonPayload } from '../core/json.js';
import { validateWithSchema } from '../core/schema.js';
import type { TaskState } from '../core/states.js';
import type { EnqueueOptions, TaskContext, TaskMap, TqConfig } from '../core/task.js';
import { newRunId } from '../queue/run-id.js';
import type { Store } from '../store/index.js';
import type { ClientOptions, EnqueuedFile, FileInput, RunHandle, TqClient } from './types.js';
import { RunFailedError } from './run-failed.js';
import { asUpload, enqueueFilesWith } from './files.js';
import { inlineMedia } from './inline-media.js';

interface InlineRun {
  queue: string;
  state: TaskState;
  result?: unknown;
  error?: string;
}

/**
 * The inline client: handlers run in this process, at enqueue, with the same payload checks,
 * schema, attempts, `retryOn`, `FatalTaskError` and time limits as on a worker, but no Redis and
 * no delays between attempts. Meant for the application's own unit tests.
 */
export function runInline(config: TqConfig, options: ClientOptions): TqClient<TaskMap> {
  const loaded = configFromObject(config, options.dir ?? process.cwd());
  const media = inlineMedia(loaded, options);
  // Handlers and stored files alike use the client's media directory.
  const resolved: ResolvedConfig = { ...loaded, mediaDir: media.dir };
  const runs = new Map<string, InlineRun>();
  let store: Promise<Store> | undefined;
  const records = () => (store ??= import('../store/index.js').then(({ openStore }) => openStore(options.db ?? ':memory:')));

  const handle = (id: string): RunHandle => ({
    id,
    queue: runs.get(id)?.queue ?? '',
    existed: false,
    state: async () => runs.get(id)?.state ?? 'unknown',
    wait: async () => {
      const run = runs.get(id);
      if (!run) throw new RunFailedError(id, 'unknown', `no run ${id}`);
      if (run.state === 'completed') return run.result as never;
      throw new RunFailedError(id, run.state, run.error ?? run.state);
    },
    cancel: async () => undefined,
  });

  const enqueue = async (taskName: string, payload: unknown, opts: EnqueueOptions = {}): Promise<RunHandle> => {
    const task = resolved.tasks.get(taskName);
    if (!task) throw new UsageError(`unknown task "${taskName}" (known: ${[...resolved.tasks.keys()].sort().join(', ')})`);
    assertJsonPayload(payload ?? {}, 'payload', resolved.payloadLimit);
    let value: unknown = JSON.parse(JSON.stringify(payload ?? {}));
    if (task.schema) value = await validateWithSchema(task.schema, value, (m) => new UsageError(`invalid payload for task "${taskName}": ${m}`));
    const id = opts.id ?? newRunId();
    const queue = opts.queue ?? task.queue;
    const attempts = opts.attempts ?? task.attempts;
    const timeLimitMs = opts.timeLimit !== undefined ? parseDuration(opts.timeLimit, 'timeLimit') : task.timeoutMs;
    const db = (await records()).records;
    runs.set(id, { queue, state: 'active' });
    for (let attempt = 1; ; attempt++) {
      const controller = new AbortController();
      const timer = timeLimitMs !== undefined ? setTimeout(() => controller.abort(new Error(`TimeLimitExceeded: run exceeded its ${timeLimitMs} ms time limit`)), timeLimitMs) : undefined;
      const ctx: TaskContext = {
        id,
        name: taskName,
        queue,
        attempt,
        signal: controller.signal,
        progress: async () => undefined,
        log: async () => undefined,
        db,
        media: resolved.mediaDir,
        enqueue: async (name, p, o) => ({ id: (await enqueue(name, p, o)).id }),
        logger: { info: () => undefined, warn: () => undefined },
      };
      try {
        const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }));
        const result = await Promise.race([Promise.resolve().then(() => task.definition.run(value, ctx)), aborted]);
        assertJsonPayload(result ?? null, 'result', Number.MAX_SAFE_INTEGER);
        runs.set(id, { queue, state: 'completed', result: JSON.parse(JSON.stringify(result ?? null)) });
        break;
      } catch (err) {
        const fatal =
          controller.signal.aborted ||
          (err instanceof Error && (err.name === 'FatalTaskError' || err.name === 'UnrecoverableError')) ||
          (task.definition.retryOn ? !task.definition.retryOn(err) : false);
        if (fatal || attempt >= attempts) {
          runs.set(id, { queue, state: 'failed', error: errorMessage(err) });
          break;
        }
      } finally {
        clearTimeout(timer);
      }
    }
    return handle(id);
  };

  const enqueueFiles = async (taskName: string, files: readonly FileInput[], opts: EnqueueOptions = {}): Promise<EnqueuedFile[]> =>
    enqueueFilesWith(
      {
        taskName,
        task: resolved.tasks.get(taskName),
        media: resolved.mediaDir,
        records: (await records()).records,
        // One at a time: handlers run at enqueue here.
        enqueue: async (prepared, o) => {
          const added: RunHandle[] = [];
          for (const p of prepared) added.push(await enqueue(taskName, p.payload, o));
          return added;
        },
      },
      files,
      opts,
    );

  return {
    enqueue: enqueue as TqClient<TaskMap>['enqueue'],
    enqueueFiles: enqueueFiles as TqClient<TaskMap>['enqueueFiles'],
    async uploadImage(file, opts = {}) {
      const { task: taskName = 'resize', ...rest } = opts;
      return asUpload(await enqueueFiles(taskName, [file], rest), taskName);
    },
    run: handle,
    async close() {
      if (store) (await store).close();
      await media.remove();
    },
  };
}
