import type { ResolvedConfig } from '../config/index.js';
import { resolveConfigInput } from '../runtime/resolve.js';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { assertJsonPayload, assertJsonResult } from '../core/json.js';
import { callHandler, RunControl } from '../core/run-control.js';
import { createRunContext } from '../core/run-context.js';
import { failureState, judgeFailure, RunAborted, timeLimitReason, TIME_LIMIT } from '../core/run-outcome.js';
import { validateWithSchema } from '../core/schema.js';
import type { EnqueueOptions, TaskLogger, TaskMap, TqConfig } from '../core/task.js';
import type { ResolvedTask } from '../config/index.js';
import type { ImageRecord, RecordsStore } from '../core/records.js';
import { newRunId } from '../queue/run-id.js';
import type { Store } from '../store/index.js';
import type { ClientOptions, EnqueuedFile, FileInput, RunHandle, RunInfo, TqClient } from './types.js';
import { RunFailedError } from './run-failed.js';
import { asUpload, enqueueFilesWith } from './files.js';
import { inlineMedia } from './inline-media.js';
import { clientImage, historyFilter, mediaFiles } from './readers.js';

const iso = (ms: number) => new Date(ms).toISOString();
const quiet: TaskLogger = { info: () => undefined, warn: () => undefined };
const stderrWarnings: TaskLogger = { info: () => undefined, warn: (line) => void process.stderr.write(`warning: ${line}\n`) };

/**
 * The inline client: handlers run in this process, at enqueue, with the same payload checks,
 * schema, attempts, `retryOn`, final errors, time limits, progress and log lines as on a worker
 * (the run rules in `core/` are the same code), but no Redis and no delays between attempts.
 * Meant for the application's own unit tests.
 */
export function runInline(config: TqConfig, options: ClientOptions): TqClient<TaskMap> {
  const loaded = resolveConfigInput(config, options);
  const media = inlineMedia(loaded, options);
  // Handlers and stored files alike use the client's media directory.
  const resolved: ResolvedConfig = { ...loaded, mediaDir: media.dir };
  const runs = new Map<string, RunInfo>();
  const warnings = options.logger ?? stderrWarnings;
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
    info: async () => {
      const run = runs.get(id);
      return run && { ...run, logs: [...run.logs] };
    },
  });

  /** One attempt: the run's record moves as the handler reports; resolves once it settled. */
  const attemptRun = async (
    run: RunInfo,
    task: ResolvedTask,
    payload: unknown,
    timeLimitMs: number | undefined,
    db: RecordsStore,
  ): Promise<{ ok: true } | { ok: false; final: boolean; message: string }> => {
    const control = new RunControl();
    if (timeLimitMs !== undefined) control.abortAfter(timeLimitMs, () => new RunAborted(TIME_LIMIT, timeLimitReason(timeLimitMs)));
    const { ctx, end } = createRunContext({
      id: run.id,
      name: task.name,
      queue: run.queue,
      attempt: run.attempt,
      signal: () => control.signal,
      db,
      media: resolved.mediaDir,
      logger: options.logger ?? quiet,
      // Nothing to save on here: every value is kept at once, so `info()` during a run is current.
      progressIntervalMs: 0,
      sinks: {
        progress: (value) => {
          run.progress = value;
        },
        log: (line) => {
          run.logs.push(line);
        },
        enqueue: async (name, childPayload, opts) => ({ id: (await enqueue(name, childPayload, opts)).id }),
      },
    });
    try {
      const result = await control.race(callHandler(() => task.definition.run(payload, ctx)));
      assertJsonResult(result ?? null, task.resultLimit);
      run.result = JSON.parse(JSON.stringify(result ?? null));
      return { ok: true };
    } catch (err) {
      const verdict = judgeFailure(err, { name: task.name, retryOn: task.definition.retryOn }, (line) => warnings.warn(line));
      return { ok: false, final: verdict.final, message: verdict.error.message };
    } finally {
      control.end();
      end();
    }
  };

  const enqueue = async (taskName: string, payload: unknown, opts: EnqueueOptions = {}): Promise<RunHandle> => {
    const task = resolved.tasks.get(taskName);
    if (!task) throw new UsageError(`unknown task "${taskName}" (known: ${[...resolved.tasks.keys()].sort().join(', ')})`);
    assertJsonPayload(payload ?? {}, 'payload', resolved.payloadLimit);
    let value: unknown = JSON.parse(JSON.stringify(payload ?? {}));
    if (task.schema)
      value = await validateWithSchema(task.schema, value, (m) => new UsageError(`invalid payload for task "${taskName}": ${m}`));
    const id = opts.id ?? newRunId();
    const attempts = opts.attempts ?? task.attempts;
    const timeLimitMs = opts.timeLimit !== undefined ? parseDuration(opts.timeLimit, 'timeLimit') : task.timeoutMs;
    const db = (await records()).records;
    const run: RunInfo = {
      id,
      task: taskName,
      queue: opts.queue ?? task.queue,
      state: 'active',
      payload: value,
      result: null,
      error: null,
      attempt: 0,
      progress: null,
      logs: [],
      worker: null,
      enqueuedAt: iso(Date.now()),
      startedAt: null,
      finishedAt: null,
      runtimeMs: null,
    };
    runs.set(id, run);
    for (;;) {
      const startedAt = Date.now();
      Object.assign(run, { state: 'active', attempt: run.attempt + 1, startedAt: iso(startedAt), finishedAt: null, runtimeMs: null });
      const outcome = await attemptRun(run, task, value, timeLimitMs, db);
      const finishedAt = Date.now();
      Object.assign(run, { finishedAt: iso(finishedAt), runtimeMs: finishedAt - startedAt });
      if (outcome.ok) {
        run.state = 'completed';
        break;
      }
      run.error = outcome.message;
      if (outcome.final || run.attempt >= attempts) {
        run.state = failureState(outcome.message);
        break;
      }
      run.state = 'retrying';
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
    images: {
      get: async (id) => {
        const record = (await records()).records.images.get(id);
        return record && clientImage(media.dir, record);
      },
      list: async (query = {}) => {
        const db = (await records()).records;
        const rows = db.query<ImageRecord>(
          `SELECT * FROM images${query.status ? ' WHERE status = ?' : ''} ORDER BY uploaded_at DESC, id DESC LIMIT ?`,
          ...(query.status ? [query.status] : []),
          query.limit ?? 50,
        );
        return rows.map((record) => clientImage(media.dir, record));
      },
    },
    history: {
      // The inline client's history is its runs, kept in memory.
      get: async (id) => {
        const run = runs.get(id);
        return run && { ...run, logs: [...run.logs] };
      },
      search: async (query = {}) => {
        const f = historyFilter(query);
        const needle = f.search?.toLowerCase();
        const matches = (run: RunInfo) =>
          (!f.state || run.state === f.state) &&
          (!f.task || run.task === f.task) &&
          (!f.queue || run.queue === f.queue) &&
          (!f.since || run.enqueuedAt >= f.since) &&
          (!needle || JSON.stringify([run.payload, run.result, run.error]).toLowerCase().includes(needle));
        return [...runs.values()]
          .filter(matches)
          .reverse()
          .slice(0, f.limit)
          .map((run) => ({ ...run, logs: [...run.logs] }));
      },
    },
    media: mediaFiles(async () => media.dir),
    async close() {
      if (store) (await store).close();
      await media.remove();
    },
  };
}
