import { Admin } from '../../queue/index.js';
import { errorMessage, RuntimeError } from '../../core/errors.js';
import { openStore } from '../../store/index.js';
import { catchUpHistory } from '../history.js';
import type { CliContext } from '../context.js';

/**
 * Runs an action with an admin connection, then brings this host's history file up to date
 * (every tq process that opens the database catches it up), so `sqlite3` agrees at once.
 */
async function withAdmin<T>(ctx: CliContext, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const config = await ctx.config();
  const settings = ctx.settings(config);
  const admin = await Admin.connect(config, settings);
  try {
    const result = await fn(admin);
    const store = openStore(settings.dbFile);
    try {
      await catchUpHistory(store, admin.redis, settings, config).catch((err) => ctx.out.warn(`history not updated yet: ${errorMessage(err)}`));
    } finally {
      store.close();
    }
    return result;
  } finally {
    await admin.close();
  }
}

/** `tq control cancel <id>`: Celery's revoke, for waiting, delayed and active runs on any host. */
export async function cancelCommand(ctx: CliContext, id: string, opts: { json?: boolean; wait?: string }): Promise<number> {
  return withAdmin(ctx, async (admin) => {
    const result = await admin.cancel(id);
    let state = result.outcome === 'removed' ? 'cancelled' : result.state;
    if (result.outcome === 'requested') {
      // Give the worker a moment to abort the handler so the answer is definite.
      state = (await admin.waitFinished(result.queue, id, 5000)) ?? 'cancelled';
    }
    if (opts.json) {
      ctx.out.json({ id, queue: result.queue, outcome: result.outcome, state });
    } else if (result.outcome === 'finished') {
      throw new RuntimeError('E_FINISHED', `run ${id} already ${state}; nothing to cancel`);
    } else if (result.outcome === 'removed') {
      ctx.out.print(`cancelled run ${id} (was ${result.state} in queue ${result.queue})`);
    } else if (state === 'cancelled') {
      ctx.out.print(`cancelled active run ${id} in queue ${result.queue}`);
    } else {
      ctx.out.print(`cancel requested for run ${id} (${state} in queue ${result.queue}); its worker stops it as soon as it sees the request`);
    }
    return result.outcome === 'finished' ? 1 : 0;
  });
}
