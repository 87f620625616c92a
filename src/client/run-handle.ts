/**
 * A run as the remote client follows it: Redis's view while Redis keeps the run, then the
 * durable history's (as `tq inspect task` reads it), and `'unknown'` when neither knows it.
 */
import { pollUntil } from '../core/async.js';
import { parseDuration } from '../core/duration.js';
import { RuntimeError } from '../core/errors.js';
import { FINAL_STATES } from '../core/states.js';
import type { ClientConnection } from './connection.js';
import { RunFailedError } from './run-failed.js';
import type { RunHandle, RunInfo } from './types.js';

/** What a handle needs of its client. */
export interface RunSources {
  readonly connection: ClientConnection;
  /** History's view of a run, brought up to date first when Redis answers. */
  fromHistory(id: string): Promise<RunInfo | undefined>;
  /** The history file, for messages. */
  historyFile(): Promise<string>;
}

/** A handle for run `id`; `knownQueue` when the caller knows it (it just enqueued the run). */
export function remoteRunHandle(sources: RunSources, id: string, knownQueue: string | undefined, existed: boolean): RunHandle {
  const { connection } = sources;
  return {
    id,
    queue: knownQueue ?? '',
    existed,
    state: async () => {
      const live = await connection.call(async ({ admin }) => {
        const queue = knownQueue ?? (await admin.findRun(id))?.queue;
        const job = queue === undefined ? undefined : await admin.queue(queue).getJob(id);
        if (!job || queue === undefined) return undefined;
        const { runState } = await import('../queue/index.js');
        return runState(job, admin.queue(queue));
      });
      return live ?? (await sources.fromHistory(id))?.state ?? 'unknown';
    },
    wait: async (options = {}) => {
      const timeoutMs = options.timeout !== undefined ? parseDuration(options.timeout, 'timeout') : undefined;
      const outcome = await connection.call(async ({ admin, producer }) => {
        const queue = knownQueue ?? (await admin.findRun(id))?.queue;
        if (queue === undefined) return undefined;
        // Listen first, then look: a run that ends after this is heard; one Redis no longer has
        // (beyond its task's keep) ended before, and history has its end.
        await producer.watch(queue);
        if (!(await producer.exists(queue, id))) return undefined;
        try {
          return await producer.wait({ id, queue }, timeoutMs);
        } catch (err) {
          if (err instanceof RuntimeError && err.code === 'E_NO_RUN') return undefined;
          throw err;
        }
      });
      if (outcome?.state === 'completed') return outcome.result as never;
      if (outcome?.state === 'timeout')
        throw new RunFailedError(id, outcome.lastState, `run ${id} is still ${outcome.lastState} after ${options.timeout}`);
      if (outcome) throw new RunFailedError(id, outcome.state, outcome.error);
      const stored = await settledInHistory(sources, id);
      if (!stored) throw new RuntimeError('E_NO_RUN', `no run ${id} in Redis or in the history (${await sources.historyFile()})`);
      if (stored.state === 'completed') return stored.result as never;
      if (FINAL_STATES.has(stored.state)) throw new RunFailedError(id, stored.state, stored.error ?? stored.state);
      throw new RuntimeError('E_NO_RUN', `run ${id} is ${stored.state} in the history, but Redis no longer has it`, {
        hint: `see tq inspect task ${id}`,
      });
    },
    cancel: async () => {
      await connection.call(({ admin }) => admin.cancel(id));
    },
    info: async (): Promise<RunInfo | undefined> => {
      const live = await connection.call(async ({ admin }) => {
        const { runDetail } = await import('../queue/index.js');
        return runDetail(admin, id);
      });
      return live ? runInfoOf(live) : sources.fromHistory(id);
    },
  };
}

/**
 * History's view of a run Redis no longer has, once final: its end may still be on its way from
 * the worker (the run-event stream) for a moment after Redis dropped the run.
 */
async function settledInHistory(sources: RunSources, id: string): Promise<RunInfo | undefined> {
  let last: RunInfo | undefined;
  const started = Date.now();
  const settled = await pollUntil(
    async () => {
      last = await sources.fromHistory(id);
      // History hears of a run at its enqueue: one it has not heard of after a moment (the
      // writers batch events for a few ms) is not coming.
      if (!last) return Date.now() - started >= UNHEARD_OF_MS ? { found: undefined } : undefined;
      return FINAL_STATES.has(last.state) ? { found: last } : undefined;
    },
    { intervalMs: 50, timeoutMs: HISTORY_SETTLE_MS },
  );
  return settled ? settled.found : last;
}

/** How long `wait()` gives history to hear the end of a run Redis dropped. */
const HISTORY_SETTLE_MS = 3000;
/** How long a run history has not heard of at all may still be on its way to it. */
const UNHEARD_OF_MS = 500;

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

/** A run's detail (Redis's or history's) cut to the fields `RunInfo` promises. */
export function runInfoOf(detail: Pick<RunInfo, (typeof RUN_INFO_KEYS)[number]>): RunInfo {
  return Object.fromEntries(RUN_INFO_KEYS.map((key) => [key, detail[key]])) as unknown as RunInfo;
}
