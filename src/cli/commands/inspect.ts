import { parseDuration, formatDuration } from '../../core/duration.js';
import { RedisUnavailableError, RuntimeError, UsageError } from '../../core/errors.js';
import { isTaskState, type TaskState } from '../../core/states.js';
import type { ResolvedConfig, Settings } from '../../config/index.js';
import { Admin, pingWorkers, queueStats, workerStatuses, type WorkerStatus } from '../../queue/index.js';
import { createAuditLog, finishedIn, HistoryQueries, openStore, type Store } from '../../store/index.js';
import { auditJson } from '../../runtime/views.js';
import {
  historyDocument,
  liveRunsDocument,
  overviewJson,
  queuesDocument,
  readOverview,
  registeredDocument,
  runDocument,
  schedulesOf,
  type InspectSources,
} from '../../runtime/inspect-reads.js';
import { catchUpHistory } from '../../runtime/history.js';
import type { CliContext } from '../context.js';
import { queuesTable, runsTable, scheduleTable, workerJson, workersTable } from '../inspect-views.js';
import { alreadyInDocument, jsonErrors } from '../output.js';
import { historyPaging, historyQueryOf } from './inspect-history.js';
import { printRunDetail } from '../run-detail-view.js';
import { table, when } from '../table.js';

interface Session {
  config: ResolvedConfig;
  settings: Settings;
  admin: Admin;
  store: Store;
  history: HistoryQueries;
}

/** A session whose Redis may be unreachable: then only the config and this host's history serve. */
type OfflineSession = Omit<Session, 'admin'> & { admin: Admin | undefined };

/**
 * Connects, opens this host's history and brings it up to date, runs `fn`, cleans up. With
 * `json`, a failure also prints its error document on stdout.
 */
async function session<T>(ctx: CliContext, json: boolean | undefined, fn: (s: Session) => Promise<T>): Promise<T> {
  return jsonErrors(ctx.out, json, () =>
    offlineSession(ctx, false, async (s) => {
      // Not offline: `offlineSession` connected or threw.
      return fn({ ...s, admin: s.admin! });
    }),
  );
}

/**
 * As `session`, but when `redisOptional` and Redis does not answer, `fn` runs on the config and
 * the history as this host last caught it up, after one warning line (the durable history is
 * needed most when Redis is down).
 */
async function offlineSession<T>(
  ctx: CliContext,
  redisOptional: boolean,
  fn: (s: OfflineSession) => Promise<T>,
  offlineShows?: string,
): Promise<T> {
  const config = await ctx.config();
  const settings = ctx.settings(config);
  let admin: Admin | undefined;
  try {
    admin = await Admin.connect(config, { ...settings, onWarning: (m) => ctx.out.warn(m) });
  } catch (err) {
    if (!redisOptional || !(err instanceof RedisUnavailableError)) throw err;
    ctx.out.warn(
      `Redis is unreachable (${err.message}); showing ${offlineShows ?? `this host's history as last caught up (${settings.dbFile})`}`,
    );
  }
  const store = openStore(settings.dbFile, { prefix: settings.prefix });
  try {
    if (admin)
      await catchUpHistory(store, admin.runEvents(), settings, config).catch((err: unknown) =>
        ctx.out.warn(`history may be behind: ${String(err)}`),
      );
    return await fn({ config, settings, admin, store, history: new HistoryQueries(store.db, store.prefix) });
  } finally {
    store.close();
    await admin?.close();
  }
}

/** The reads' view of a session (see runtime/inspect-reads.ts, shared with tq web). */
function sources(s: Session): InspectSources {
  return { config: s.config, prefix: s.settings.prefix, admin: s.admin, history: s.history };
}

export interface FilterOptions {
  state?: string;
  task?: string;
  queue?: string;
  limit?: string;
  since?: string;
  search?: string;
  json?: boolean;
}

export interface HistoryOptions extends FilterOptions {
  sort?: string;
  order?: string;
  cursor?: string;
}

function parseFilters(o: FilterOptions) {
  if (o.state !== undefined && !isTaskState(o.state)) {
    throw new UsageError(
      `--state "${o.state}" is not a state (one of waiting, delayed, active, retrying, completed, failed, cancelled, expired)`,
    );
  }
  const limit = o.limit === undefined ? 20 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new UsageError(`--limit must be an integer from 1 to 10000 (got "${o.limit}")`);
  const since = o.since !== undefined ? new Date(Date.now() - parseDuration(o.since, '--since')).toISOString() : undefined;
  return {
    ...(o.state ? { state: o.state as TaskState } : {}),
    ...(o.task ? { task: o.task } : {}),
    ...(o.queue ? { queue: o.queue } : {}),
    ...(since ? { since } : {}),
    ...(o.search ? { search: o.search } : {}),
    limit,
  };
}

/** `tq inspect`: one overview screen. */
export async function inspectOverview(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  return session(ctx, opts.json, async (s) => {
    const overview = await readOverview(sources(s));
    if (opts.json) {
      ctx.out.json(overviewJson(overview));
      return 0;
    }
    const { queues: withConsumers, workers, schedules: rows, failures, perMinute } = overview;
    const { out } = ctx;
    const rate = perMinute.map(finishedIn);
    out.print(out.color.bold(`Queues`) + out.color.dim(`  (runs finished per minute, last 10 min: ${rate.join(' ')})`));
    out.print(queuesTable(out, withConsumers));
    out.print(`\n${out.color.bold('Workers')}`);
    out.print(workersTable(out, workers));
    out.print(`\n${out.color.bold('Schedules')}`);
    out.print(scheduleTable(out, rows));
    out.print(`\n${out.color.bold('Recent failures')}`);
    out.print(
      failures.length === 0
        ? '(none)'
        : table(
            out,
            ['finished', 'id', 'task', 'error'],
            failures.map((f) => [when(f.finished_at), f.job_id, f.task, (f.error ?? '').slice(0, 80)]),
          ),
    );
    return 0;
  });
}

/** `tq inspect queues [queue]`: every queue, or one (exit 1 when it does not exist). */
export async function inspectQueues(ctx: CliContext, queue: string | undefined, opts: { json?: boolean }): Promise<number> {
  return session(ctx, opts.json, async (s) => {
    const doc = await queuesDocument(sources(s), queue);
    if (opts.json) ctx.out.json(doc);
    else ctx.out.print(queuesTable(ctx.out, doc.queues));
    return 0;
  });
}

export async function inspectWorkers(ctx: CliContext, opts: { json?: boolean; ping?: boolean }): Promise<number> {
  return session(ctx, opts.json, async (s) => {
    const stats = await queueStats(s.admin, []);
    const workers = await workerStatuses(s.admin, stats);
    const ping = opts.ping ? await pingWorkers(s.settings.redisUrl, s.admin) : undefined;
    const unanswered =
      opts.ping && (ping?.size ?? 0) === 0
        ? new RuntimeError(
            'E_NO_WORKER',
            workers.length === 0 ? 'no live workers' : `none of ${workers.length} worker(s) answered the ping`,
          )
        : undefined;
    if (opts.json) {
      const error = unanswered ? { error: { code: unanswered.code, message: unanswered.message, hint: null } } : {};
      ctx.out.json({ workers: workers.map((w: WorkerStatus) => workerJson(w, ping)), ...error });
    } else ctx.out.print(workersTable(ctx.out, workers, ping));
    if (unanswered) throw alreadyInDocument(unanswered);
    return 0;
  });
}

export async function inspectTasks(ctx: CliContext, opts: FilterOptions): Promise<number> {
  return jsonErrors(ctx.out, opts.json, async () => {
    const f = parseFilters(opts);
    return session(ctx, false, async (s) => {
      const { runs } = await liveRunsDocument(sources(s), f);
      if (opts.json) ctx.out.json({ runs });
      else ctx.out.print(runsTable(ctx.out, runs));
      return 0;
    });
  });
}

export async function inspectTask(ctx: CliContext, id: string, opts: { json?: boolean }): Promise<number> {
  return session(ctx, opts.json, async (s) => {
    const detail = await runDocument(sources(s), id, s.settings.dbFile);
    if (opts.json) ctx.out.json(detail);
    else printRunDetail(ctx.out, detail);
    return 0;
  });
}

/**
 * `tq inspect registered`: the config's tasks and the live workers serving each. With Redis
 * unreachable, the tasks are still listed (from the config) and the workers are unknown.
 */
export async function inspectRegistered(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  return jsonErrors(ctx.out, opts.json, () =>
    offlineSession(
      ctx,
      true,
      async (s) => {
        const { tasks } = await registeredDocument(s.config, s.admin);
        if (opts.json) {
          ctx.out.json({ tasks });
          return 0;
        }
        const { out } = ctx;
        const workersCell = (names: string[] | null) =>
          names === null ? out.color.dim('unknown') : names.length ? names.join(', ') : out.color.red('none');
        ctx.out.print(
          table(
            out,
            ['task', 'queue', 'attempts', 'backoff', 'timeout', 'rate', 'workers'],
            tasks.map((t) => [
              t.name,
              t.queue,
              t.attempts,
              t.backoff ? `${t.backoff.type} ${formatDuration(t.backoff.delay)}` : '-',
              t.timeoutMs ? formatDuration(t.timeoutMs) : '-',
              t.rateLimit ?? '-',
              workersCell(t.workers),
            ]),
          ),
        );
        return 0;
      },
      'the tasks of the config; which workers serve them is unknown',
    ),
  );
}

/**
 * `tq inspect history`: runs, per-task statistics and totals from SQLite; every filter applies
 * to all three. Works with Redis unreachable (see `offlineSession`).
 */
export async function inspectHistory(ctx: CliContext, opts: HistoryOptions): Promise<number> {
  return jsonErrors(ctx.out, opts.json, async () => {
    const f = parseFilters(opts);
    const query = historyQueryOf(f);
    const paging = historyPaging(opts, f.limit);
    return offlineSession(ctx, true, async (s) => {
      const doc = historyDocument(s.history, query, paging);
      const { runs, totals, tasks } = doc;
      if (opts.json) {
        ctx.out.json(doc);
        return 0;
      }
      ctx.out.print(runsTable(ctx.out, runs));
      ctx.out.print('');
      ctx.out.print(
        table(
          ctx.out,
          ['task', 'runs', 'completed', 'failed', 'cancelled', 'expired', 'p50', 'p95'],
          tasks.map((t) => [
            t.task,
            t.count,
            t.completed,
            t.failed,
            t.cancelled,
            t.expired,
            t.p50Ms != null ? formatDuration(t.p50Ms) : '-',
            t.p95Ms != null ? formatDuration(t.p95Ms) : '-',
          ]),
        ),
      );
      const byState = Object.entries(totals.byState)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ');
      const more = doc.nextCursor ? ` (showing ${runs.length}; --limit for more)` : '';
      ctx.out.print(`${totals.total} run(s) match${totals.total ? `: ${byState}` : ''}${more}`);
      return 0;
    });
  });
}

export async function inspectSchedule(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  return session(ctx, opts.json, async (s) => {
    const rows = await schedulesOf(sources(s));
    if (opts.json) ctx.out.json({ schedules: rows });
    else ctx.out.print(scheduleTable(ctx.out, rows));
    return 0;
  });
}

/** `tq inspect audit`: actions taken through tq web, newest first, from this host's SQLite file. */
export async function inspectAudit(ctx: CliContext, opts: { limit?: string; json?: boolean }): Promise<number> {
  return jsonErrors(ctx.out, opts.json, async () => {
    const limit = opts.limit === undefined ? 50 : Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new UsageError(`--limit must be an integer from 1 to 10000 (got "${opts.limit}")`);
    const config = await ctx.config();
    const store = openStore(ctx.settings(config).dbFile);
    try {
      const entries = auditJson(createAuditLog(store.db).list({ limit }));
      if (opts.json) {
        ctx.out.json({ entries });
        return 0;
      }
      ctx.out.print(
        entries.length === 0
          ? '(no actions recorded)'
          : table(
              ctx.out,
              ['at', 'who', 'role', 'action', 'target', 'query', 'result'],
              entries.map((e) => [when(e.at), e.who, e.role, e.action, e.target ?? '-', e.query ?? '-', e.result]),
            ),
      );
      return 0;
    } finally {
      store.close();
    }
  });
}
