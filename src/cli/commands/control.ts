import { Admin, type CancelOutcome, type PurgeState } from '../../queue/index.js';
import { errorMessage, RuntimeError, UsageError } from '../../core/errors.js';
import { isFinalState } from '../../core/states.js';
import { catchUpHistory } from '../../runtime/history.js';
import { HistoryQueries, openStore } from '../../store/index.js';
import type { CliContext } from '../context.js';
import { jsonErrors } from '../output.js';

/**
 * Runs an action with an admin connection, then brings this host's history file up to date
 * (every tq process that opens the database catches it up), so `sqlite3` agrees at once. With
 * `json`, a failure also prints its error document on stdout.
 */
async function withAdmin<T>(ctx: CliContext, json: boolean | undefined, fn: (admin: Admin) => Promise<T>): Promise<T> {
  return jsonErrors(ctx.out, json, async () => {
    const config = await ctx.config();
    const settings = ctx.settings(config);
    const admin = await Admin.connect(config, { ...settings, onWarning: (m) => ctx.out.warn(m) });
    try {
      const result = await fn(admin);
      await caughtUp(ctx, admin, () => undefined);
      return result;
    } finally {
      await admin.close();
    }
  });
}

/** Opens this host's history, brings it up to date, reads it with `read`, closes it. */
async function caughtUp<T>(ctx: CliContext, admin: Admin, read: (history: HistoryQueries) => T): Promise<T> {
  const config = await ctx.config();
  const settings = ctx.settings(config);
  const store = openStore(settings.dbFile, { prefix: settings.prefix });
  try {
    await catchUpHistory(store, admin.runEvents(), settings, config).catch((err: unknown) =>
      ctx.out.warn(`history not updated yet: ${errorMessage(err)}`),
    );
    return read(new HistoryQueries(store.db, store.prefix));
  } finally {
    store.close();
  }
}

/** A cancel of a run that already ended: nothing is done, and the answer says how it ended. */
function alreadyEnded(id: string, state: string): RuntimeError {
  return new RuntimeError('E_FINISHED', `run ${id} is already ${state}; nothing to cancel`);
}

/**
 * `tq control cancel <id>`: Celery's revoke, for waiting, delayed and active runs on any host.
 * A run that already ended (in Redis, or only in history: a run cancelled while waiting is
 * removed from its queue) is left as it is: exit 1, saying how it ended.
 */
export async function cancelCommand(ctx: CliContext, id: string, opts: { json?: boolean; wait?: string }): Promise<number> {
  return withAdmin(ctx, opts.json, async (admin) => {
    let result: CancelOutcome;
    try {
      result = await admin.cancel(id);
    } catch (err) {
      if (!(err instanceof RuntimeError && err.code === 'E_NO_RUN')) throw err;
      const row = await caughtUp(ctx, admin, (h) => h.get(id));
      if (row && isFinalState(row.state)) throw alreadyEnded(id, row.state);
      if (row) throw new RuntimeError('E_NO_RUN', `run ${id} is ${row.state} in history and no queue has it; nothing to cancel`);
      throw new RuntimeError('E_NO_RUN', `no run ${id} in Redis or in this host's history`, {
        hint: 'run ids are printed by tq enqueue; tq inspect history --search lists past runs',
      });
    }
    if (result.outcome === 'finished') throw alreadyEnded(id, result.state);
    let state = result.outcome === 'removed' ? 'cancelled' : result.state;
    if (result.outcome === 'requested') {
      // Give the worker a moment to abort the handler so the answer is definite.
      state = (await admin.waitFinished(result.queue, id, 5000)) ?? 'cancelled';
    }
    if (opts.json) {
      ctx.out.json({ id, queue: result.queue, outcome: result.outcome, state });
    } else if (result.outcome === 'removed') {
      ctx.out.print(`cancelled run ${id} (was ${result.state} in queue ${result.queue})`);
    } else if (state === 'cancelled') {
      ctx.out.print(`cancelled active run ${id} in queue ${result.queue}`);
    } else {
      ctx.out.print(
        `cancel requested for run ${id} (${state} in queue ${result.queue}); its worker stops it as soon as it sees the request`,
      );
    }
    return 0;
  });
}

/** `tq control retry <id>` / `retry --failed [--task NAME]`. */
export async function retryCommand(
  ctx: CliContext,
  id: string | undefined,
  opts: { failed?: boolean; task?: string; json?: boolean },
): Promise<number> {
  const usage =
    !id && !opts.failed
      ? 'give a run id, or --failed to retry every failed run'
      : id && opts.failed
        ? 'give a run id or --failed, not both'
        : undefined;
  if (usage) return jsonErrors(ctx.out, opts.json, () => Promise.reject(new UsageError(usage)));
  return withAdmin(ctx, opts.json, async (admin) => {
    if (id) {
      const { queue, task } = await admin.retry(id);
      if (opts.json) ctx.out.json({ retried: [id], count: 1 });
      else ctx.out.print(`retrying ${task} run ${id} on queue ${queue}`);
      return 0;
    }
    const { retried, skipped } = await admin.retryFailed(opts.task);
    if (opts.json) ctx.out.json({ count: retried, ...(skipped > 0 ? { skipped } : {}), ...(opts.task ? { task: opts.task } : {}) });
    else
      ctx.out.print(
        `retried ${retried} failed run(s)${opts.task ? ` of ${opts.task}` : ''}` +
          (skipped > 0 ? ` (${skipped} skipped: already retried or gone)` : ''),
      );
    return 0;
  });
}

/** `tq control pause [queue]` / `resume [queue]`. */
export async function pauseCommand(ctx: CliContext, queue: string | undefined, opts: { json?: boolean }, paused = true): Promise<number> {
  return withAdmin(ctx, opts.json, async (admin) => {
    if (queue && !(await admin.knownQueues()).includes(queue)) {
      throw new RuntimeError('E_NO_QUEUE', `no queue "${queue}" (known: ${(await admin.knownQueues()).join(', ')})`);
    }
    const queues = await admin.setPaused(paused, queue);
    if (opts.json) ctx.out.json({ queues, paused });
    else
      ctx.out.print(
        `${paused ? 'paused' : 'resumed'} ${queues.join(', ')}: workers ${paused ? 'take no new runs from' : 'take runs again from'} ${queues.length === 1 ? 'it' : 'them'}`,
      );
    return 0;
  });
}

export const resumeCommand = (ctx: CliContext, queue: string | undefined, opts: { json?: boolean }) =>
  pauseCommand(ctx, queue, opts, false);

const PURGE_STATES: readonly PurgeState[] = ['waiting', 'delayed', 'failed', 'completed'];

/** `tq control purge [queue] [--state S] [--yes]`. */
export async function purgeCommand(
  ctx: CliContext,
  queue: string | undefined,
  opts: { state?: string; yes?: boolean; json?: boolean },
): Promise<number> {
  const state = (opts.state ?? 'waiting') as PurgeState;
  if (!PURGE_STATES.includes(state)) {
    const bad = new UsageError(`--state must be one of ${PURGE_STATES.join(', ')} (got "${opts.state}")`);
    return jsonErrors(ctx.out, opts.json, () => Promise.reject(bad));
  }
  return withAdmin(ctx, opts.json, async (admin) => {
    const known = await admin.knownQueues();
    if (queue && !known.includes(queue)) throw new RuntimeError('E_NO_QUEUE', `no queue "${queue}" (known: ${known.join(', ')})`);
    const target = queue ? `queue ${queue}` : `all queues (${known.join(', ')})`;
    if (!opts.yes) {
      if (!process.stdin.isTTY || !ctx.out.errTty)
        throw new UsageError(`purge removes runs for good: confirm with --yes (${state} runs of ${target})`);
      if (!(await confirm(`Remove every ${state} run of ${target}? [y/N] `))) {
        ctx.out.info('nothing removed');
        return 1;
      }
    }
    const removed = await admin.purge(state, queue);
    const total = removed.reduce((n, r) => n + r.removed, 0);
    if (opts.json) ctx.out.json({ state, removed, total });
    else
      ctx.out.print(
        `removed ${total} ${state} run(s)${removed.length > 1 ? ` (${removed.map((r) => `${r.queue}: ${r.removed}`).join(', ')})` : ` from ${removed[0]?.queue ?? queue}`}`,
      );
    return 0;
  });
}

async function confirm(question: string): Promise<boolean> {
  const readline = await import('node:readline/promises');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** `tq control shutdown [worker]`: warm shutdown of one worker or all, through the control channel. */
export async function shutdownCommand(ctx: CliContext, worker: string | undefined, opts: { json?: boolean }): Promise<number> {
  return withAdmin(ctx, opts.json, async (admin) => {
    const targets = await admin.shutdown(worker);
    if (targets.length === 0) {
      const live = worker ? (await admin.workers()).map((w) => w.name) : [];
      throw new RuntimeError('E_NO_WORKER', worker ? `no live worker "${worker}" (live: ${live.join(', ') || 'none'})` : 'no live workers');
    }
    if (opts.json) ctx.out.json({ workers: targets });
    else ctx.out.print(`asked ${targets.join(', ')} to shut down (warm: active runs finish first)`);
    return 0;
  });
}
