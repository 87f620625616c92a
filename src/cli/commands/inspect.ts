import { parseDuration, formatDuration, formatBytes } from '../../core/duration.js';
import { clockWarning, describeOffset } from '../../core/clock-offset.js';
import { RuntimeError, UsageError } from '../../core/errors.js';
import { isTaskState, type TaskState } from '../../core/states.js';
import type { ResolvedConfig, Settings } from '../../config/index.js';
import {
  Admin,
  listRuns,
  pingWorkers,
  queueStats,
  runDetail,
  workerStatuses,
  unparseableLabel,
  type QueueStats,
  type WorkerStatus,
  type Unparseable,
} from '../../queue/index.js';
import { HistoryQueries, openStore, type Store, type TaskRunRow } from '../../store/index.js';
import { scheduleRows, type ScheduleRow } from '../../beat/index.js';
import { catchUpHistory } from '../../runtime/history.js';
import type { CliContext } from '../context.js';
import { colorState } from '../output.js';
import { mergeDetail, printRunDetail } from '../run-detail-view.js';
import { age, table, when } from '../table.js';

interface Session {
  config: ResolvedConfig;
  settings: Settings;
  admin: Admin;
  store: Store;
  history: HistoryQueries;
}

/** Connects, opens this host's history and brings it up to date, runs `fn`, cleans up. */
async function session<T>(ctx: CliContext, fn: (s: Session) => Promise<T>): Promise<T> {
  const config = await ctx.config();
  const settings = ctx.settings(config);
  const admin = await Admin.connect(config, { ...settings, onWarning: (m) => ctx.out.warn(m) });
  const store = openStore(settings.dbFile);
  try {
    await catchUpHistory(store, admin.runEvents(), settings, config).catch((err: unknown) =>
      ctx.out.warn(`history may be behind: ${String(err)}`),
    );
    return await fn({ config, settings, admin, store, history: new HistoryQueries(store.db) });
  } finally {
    store.close();
    await admin.close();
  }
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

const queueJson = (q: QueueStats) => ({ ...q, flags: flagsOf(q) });
function flagsOf(q: QueueStats): string[] {
  const flags: string[] = [];
  if (q.paused) flags.push('paused');
  if (q.consumers === 0 && q.waiting + q.delayed > 0) flags.push('no-consumer');
  return flags;
}

function queuesTable(ctx: CliContext, stats: QueueStats[]): string {
  if (stats.length === 0) return '(no queues yet)';
  return table(
    ctx.out,
    ['queue', 'waiting', 'active', 'delayed', 'completed', 'failed', 'oldest', 'consumers', 'flags'],
    stats.map((q) => [
      q.name,
      q.waiting,
      q.active,
      q.delayed,
      q.completed,
      q.failed,
      age(q.oldestWaitingMs),
      q.consumers,
      flagsOf(q)
        .map((f) => (f === 'no-consumer' ? ctx.out.color.red(f) : ctx.out.color.yellow(f)))
        .join(' '),
    ]),
  );
}

const workerJson = (w: WorkerStatus, ping?: Map<string, number>) => ({
  name: w.name,
  host: w.host,
  pid: w.pid,
  queues: w.queues,
  concurrency: w.concurrency,
  active: w.active.map((a) => ({ id: a.id, task: a.task, startedAt: new Date(a.startedAt).toISOString() })),
  processed: w.processed,
  failed: w.failed,
  zombies: w.zombies,
  uptimeMs: Date.now() - w.startedAt,
  rssBytes: w.rssBytes,
  version: w.version,
  heartbeatAgeMs: w.heartbeatAgeMs,
  clockOffsetMs: w.clockOffsetMs ?? null,
  lastFetchAt: new Date(w.lastFetchAt).toISOString(),
  stuck: w.stuck,
  ...(ping ? { pingMs: ping.get(w.name) ?? null } : {}),
});

/** A worker's clock against Redis's: `3 ms behind`, yellow past a second (see README, Clocks). */
const clockCell = (ctx: CliContext, offsetMs: number) =>
  clockWarning(offsetMs) ? ctx.out.color.yellow(describeOffset(offsetMs)) : describeOffset(offsetMs);

function workersTable(ctx: CliContext, workers: WorkerStatus[], ping?: Map<string, number>): string {
  if (workers.length === 0) return '(no live workers)';
  return table(
    ctx.out,
    [
      'worker',
      'host',
      'pid',
      'queues',
      'active',
      'processed',
      'failed',
      'memory',
      'uptime',
      'beat',
      'clock',
      ...(ping ? ['ping'] : []),
      'flags',
    ],
    workers.map((w) => [
      w.name,
      w.host,
      w.pid,
      w.queues.join(','),
      `${w.active.length}/${w.concurrency * w.queues.length}`,
      w.processed,
      w.failed,
      formatBytes(w.rssBytes),
      age(Date.now() - w.startedAt),
      age(w.heartbeatAgeMs),
      w.clockOffsetMs === undefined ? '-' : clockCell(ctx, w.clockOffsetMs),
      ...(ping ? [ping.has(w.name) ? `${ping.get(w.name)} ms` : ctx.out.color.red('no answer')] : []),
      [w.stuck ? ctx.out.color.red('stuck') : '', w.zombies ? ctx.out.color.yellow(`${w.zombies} zombie(s)`) : '']
        .filter(Boolean)
        .join(' '),
    ]),
  );
}

function scheduleTable(ctx: CliContext, rows: ScheduleRow[]): string {
  if (rows.length === 0) return '(no schedules)';
  return table(
    ctx.out,
    ['schedule', 'task', 'expression', 'zone', 'last fire', 'next fire'],
    rows.map((r) => [r.name, r.task, r.expression, r.zone, when(r.lastFire), r.enabled ? when(r.nextFire) : ctx.out.color.dim('disabled')]),
  );
}

const historyJson = (r: TaskRunRow) => ({
  id: r.job_id,
  task: r.task,
  queue: r.queue,
  state: r.state,
  attempt: r.attempt,
  worker: r.worker,
  enqueuedAt: r.enqueued_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  runtimeMs: r.runtime_ms,
  error: r.error,
});

function runsTable(
  ctx: CliContext,
  rows: {
    id: string;
    task: string;
    queue: string;
    state: string;
    attempt: number;
    enqueuedAt: string | null;
    runtimeMs?: number | null;
    worker?: string | null;
    unparseable?: Unparseable;
  }[],
): string {
  if (rows.length === 0) return '(no runs)';
  return table(
    ctx.out,
    ['enqueued', 'id', 'task', 'queue', 'state', 'attempt', 'runtime', 'worker'],
    rows.map((r) => [
      when(r.enqueuedAt),
      r.id,
      r.unparseable ? `${r.task} ${ctx.out.color.red(unparseableLabel(r.unparseable))}` : r.task,
      r.queue,
      colorState(ctx.out.color, r.state),
      r.attempt,
      r.runtimeMs != null ? formatDuration(r.runtimeMs) : '-',
      r.worker ?? '-',
    ]),
  );
}

async function schedules(s: Session): Promise<ScheduleRow[]> {
  return scheduleRows(s.config, { read: (names) => s.admin.scheduleStates(names) });
}

/** `tq inspect`: one overview screen. */
export async function inspectOverview(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  return session(ctx, async (s) => {
    const stats = await queueStats(s.admin, []);
    const workers = await workerStatuses(s.admin, stats);
    const withConsumers = await queueStats(s.admin, workers);
    const rows = await schedules(s);
    const failures = s.history.list({ state: 'failed', limit: 5 });
    const perMinute = s.history.perMinute(10);
    if (opts.json) {
      ctx.out.json({
        queues: withConsumers.map(queueJson),
        workers: workers.map((w) => workerJson(w)),
        schedules: rows,
        recentFailures: failures.map(historyJson),
        throughput: perMinute,
      });
      return 0;
    }
    const { out } = ctx;
    const rate = perMinute.map((m) => m.completed + m.failed);
    out.print(out.color.bold(`Queues`) + out.color.dim(`  (runs finished per minute, last 10 min: ${rate.join(' ')})`));
    out.print(queuesTable(ctx, withConsumers));
    out.print(`\n${out.color.bold('Workers')}`);
    out.print(workersTable(ctx, workers));
    out.print(`\n${out.color.bold('Schedules')}`);
    out.print(scheduleTable(ctx, rows));
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

export async function inspectQueues(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  return session(ctx, async (s) => {
    const workers = await workerStatuses(s.admin);
    const stats = await queueStats(s.admin, workers);
    if (opts.json) ctx.out.json({ queues: stats.map(queueJson) });
    else ctx.out.print(queuesTable(ctx, stats));
    return 0;
  });
}

export async function inspectWorkers(ctx: CliContext, opts: { json?: boolean; ping?: boolean }): Promise<number> {
  return session(ctx, async (s) => {
    const stats = await queueStats(s.admin, []);
    const workers = await workerStatuses(s.admin, stats);
    const ping = opts.ping ? await pingWorkers(s.settings.redisUrl, s.admin) : undefined;
    if (opts.json) ctx.out.json({ workers: workers.map((w) => workerJson(w, ping)) });
    else ctx.out.print(workersTable(ctx, workers, ping));
    if (opts.ping && (ping?.size ?? 0) === 0) {
      throw new RuntimeError(
        'E_NO_WORKER',
        workers.length === 0 ? 'no live workers' : `none of ${workers.length} worker(s) answered the ping`,
      );
    }
    return 0;
  });
}

export async function inspectTasks(ctx: CliContext, opts: FilterOptions): Promise<number> {
  const f = parseFilters(opts);
  return session(ctx, async (s) => {
    const runs = await listRuns(s.admin, f);
    if (opts.json) ctx.out.json({ runs });
    else ctx.out.print(runsTable(ctx, runs));
    return 0;
  });
}

export async function inspectTask(ctx: CliContext, id: string, opts: { json?: boolean }): Promise<number> {
  return session(ctx, async (s) => {
    const live = await runDetail(s.admin, id);
    const row = s.history.get(id);
    if (!live && !row) throw new RuntimeError('E_NO_RUN', `no run ${id} in Redis or in the history (${s.settings.dbFile})`);
    const detail = mergeDetail(live, row);
    if (opts.json) ctx.out.json(detail);
    else printRunDetail(ctx.out, detail);
    return 0;
  });
}

export async function inspectRegistered(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  return session(ctx, async (s) => {
    const workers = await workerStatuses(s.admin);
    const tasks = [...s.config.tasks.values()].map((t) => ({
      name: t.name,
      queue: t.queue,
      attempts: t.attempts,
      backoff: t.backoff ?? null,
      timeoutMs: t.timeoutMs ?? null,
      rateLimit: t.definition.rateLimit ?? null,
      priority: t.priority ?? null,
      expiresMs: t.expiresMs ?? null,
      isolate: t.isolate,
      description: t.description ?? null,
      workers: workers.filter((w) => w.queues.includes(t.queue)).map((w) => w.name),
    }));
    if (opts.json) {
      ctx.out.json({ tasks });
      return 0;
    }
    ctx.out.print(
      table(
        ctx.out,
        ['task', 'queue', 'attempts', 'backoff', 'timeout', 'rate', 'workers'],
        tasks.map((t) => [
          t.name,
          t.queue,
          t.attempts,
          t.backoff ? `${t.backoff.type} ${formatDuration(t.backoff.delay)}` : '-',
          t.timeoutMs ? formatDuration(t.timeoutMs) : '-',
          t.rateLimit ?? '-',
          t.workers.length ? t.workers.join(', ') : ctx.out.color.red('none'),
        ]),
      ),
    );
    return 0;
  });
}

export async function inspectHistory(ctx: CliContext, opts: FilterOptions): Promise<number> {
  const f = parseFilters(opts);
  return session(ctx, async (s) => {
    const runs = s.history.list(f);
    const totals = s.history.totals(f);
    const tasks = s.history.taskStats(f);
    if (opts.json) {
      ctx.out.json({ runs: runs.map(historyJson), totals, tasks });
      return 0;
    }
    ctx.out.print(
      runsTable(
        ctx,
        runs.map((r) => ({ ...historyJson(r), enqueuedAt: r.enqueued_at })),
      ),
    );
    ctx.out.print('');
    ctx.out.print(
      table(
        ctx.out,
        ['task', 'runs', 'completed', 'failed', 'p50', 'p95'],
        tasks.map((t) => [
          t.task,
          t.count,
          t.completed,
          t.failed,
          t.p50Ms != null ? formatDuration(t.p50Ms) : '-',
          t.p95Ms != null ? formatDuration(t.p95Ms) : '-',
        ]),
      ),
    );
    ctx.out.print(
      `${totals.total} run(s) match` +
        (totals.total
          ? `: ${Object.entries(totals.byState)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')}`
          : '') +
        (runs.length < totals.total ? ` (showing ${runs.length}; --limit for more)` : ''),
    );
    return 0;
  });
}

export async function inspectSchedule(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  return session(ctx, async (s) => {
    const rows = await schedules(s);
    if (opts.json) ctx.out.json({ schedules: rows });
    else ctx.out.print(scheduleTable(ctx, rows));
    return 0;
  });
}
