/**
 * The reads behind `tq inspect --json` and `tq web`'s API, assembled once: both print exactly
 * these documents.
 */
import { RuntimeError } from '../core/errors.js';
import type { ResolvedConfig } from '../config/index.js';
import { scheduleRows, type ScheduleRow } from '../beat/index.js';
import { Admin, listRuns, queueStats, runDetail, workerStatuses, type RunSummary } from '../queue/index.js';
import { EMPTY_QUERY, formatQuery, type HistoryQuery } from '../core/query.js';
import type { HistoryQueries, SearchOptions } from '../store/index.js';
import { historyJson, mergeDetail, queueJson, registeredJson, workerJson, type RunDetailView } from './views.js';

/** What a read needs: the config, a connection, this host's history. */
export interface InspectSources {
  readonly config: ResolvedConfig;
  readonly prefix: string;
  readonly admin: Admin;
  readonly history: HistoryQueries;
}

/** Throws `E_NO_QUEUE` (exit 1, HTTP 404) unless the queue exists under the prefix. */
export async function mustExist(s: InspectSources, queue: string): Promise<void> {
  if (await s.admin.queueExists(queue)) return;
  const known = await s.admin.knownQueues();
  throw new RuntimeError('E_NO_QUEUE', `no queue "${queue}" under prefix "${s.prefix}" (known: ${known.join(', ') || 'none'})`);
}

export async function schedulesOf(s: Pick<InspectSources, 'config' | 'admin'>): Promise<ScheduleRow[]> {
  return scheduleRows(s.config, { read: (names) => s.admin.scheduleStates(names) });
}

/** What the overview shows: queues (with consumers), workers, schedules, recent failures, throughput. */
export async function readOverview(s: InspectSources) {
  const stats = await queueStats(s.admin, []);
  const workers = await workerStatuses(s.admin, stats);
  const queues = await queueStats(s.admin, workers);
  const schedules = await schedulesOf(s);
  // The newest failures through the (state, enqueued_at) index, not a sort of every failed run.
  const failures = s.history.search({ ...EMPTY_QUERY, states: ['failed'] }, { limit: 5, countUpTo: 0 }).rows;
  return { queues, workers, schedules, failures, perMinute: s.history.perMinute(10) };
}

/** `tq inspect --json`. */
export function overviewJson(o: Awaited<ReturnType<typeof readOverview>>) {
  return {
    queues: o.queues.map(queueJson),
    workers: o.workers.map((w) => workerJson(w)),
    schedules: o.schedules,
    recentFailures: o.failures.map(historyJson),
    throughput: o.perMinute,
  };
}

/** `tq inspect queues [queue] --json`. */
export async function queuesDocument(s: InspectSources, queue?: string) {
  if (queue !== undefined) await mustExist(s, queue);
  const workers = await workerStatuses(s.admin);
  const stats = await queueStats(s.admin, workers, queue === undefined ? undefined : [queue]);
  return { queues: stats.map(queueJson) };
}

/** `tq inspect workers --json` (without `--ping`). */
export async function workersDocument(s: InspectSources) {
  const stats = await queueStats(s.admin, []);
  const workers = await workerStatuses(s.admin, stats);
  return { workers: workers.map((w) => workerJson(w)) };
}

/** `tq inspect tasks --json`: runs known to Redis. */
export async function liveRunsDocument(s: InspectSources, filter: Parameters<typeof listRuns>[1]): Promise<{ runs: RunSummary[] }> {
  if (filter.queue !== undefined) await mustExist(s, filter.queue);
  return { runs: await listRuns(s.admin, filter) };
}

/**
 * `tq inspect task <id> --json`: Redis's view completed by history; `E_NO_RUN` when neither has
 * it (naming the history file only when given one: tq web does not show its paths to viewers).
 */
export async function runDocument(s: InspectSources, id: string, dbFile?: string): Promise<RunDetailView> {
  const live = await runDetail(s.admin, id);
  const row = s.history.get(id);
  if (!live && !row) throw new RuntimeError('E_NO_RUN', `no run ${id} in Redis or in the history${dbFile ? ` (${dbFile})` : ''}`);
  return mergeDetail(live, row);
}

/** `tq inspect registered --json`; `admin` undefined: Redis unreachable, workers unknown. */
export async function registeredDocument(config: ResolvedConfig, admin: Admin | undefined) {
  const workers = admin ? await workerStatuses(admin) : undefined;
  return { tasks: registeredJson(config, workers) };
}

/**
 * `tq inspect history --json`: a page of runs, totals and per-task statistics (every term of the
 * query applies to all three), the next page's cursor and the query as understood.
 */
export function historyDocument(history: HistoryQueries, query: HistoryQuery, paging: SearchOptions) {
  const page = history.search(query, { ...paging, countUpTo: 0 });
  return {
    runs: page.rows.map(historyJson),
    totals: history.totalsByState(query),
    tasks: history.taskStats(query),
    nextCursor: page.nextCursor,
    query: formatQuery(query),
  };
}
