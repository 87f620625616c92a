import { settlesWithin } from '../core/async.js';
import { randomBytes } from 'node:crypto';
import type { Job, JobType, Queue } from 'bullmq';
import { fromBullState, type TaskState } from '../core/states.js';
import { adminConnection, type Admin } from './admin.js';
import { connect } from './connection.js';
import { publishControl } from './control.js';
import type { WorkerHeartbeat } from './heartbeat.js';
import { tqKeys } from './keys.js';
import { failureState } from '../core/run-outcome.js';
import { unwrap } from './envelope.js';
import { unparseableOf, type Unparseable } from './unparseable-jobs.js';
import { failedBreakdown } from './failed-breakdown.js';

export interface QueueStats {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  /** Runs that failed (attempts exhausted or unrecoverable); cancelled and expired runs are not counted here. */
  failed: number;
  /** Runs cancelled while active (a run cancelled while waiting is removed from its queue). */
  cancelled: number;
  /** Runs that were not started before their expiry. */
  expired: number;
  paused: boolean;
  /** Age of the oldest waiting run, ms (undefined when none waits). */
  oldestWaitingMs: number | undefined;
  /** Live workers consuming this queue (a worker in its warm shutdown takes no new runs: not counted). */
  consumers: number;
}

/**
 * The `no-consumer` flag: work is waiting (or an active run was left by a worker that is gone)
 * and no live worker consumes the queue. Delayed runs alone do not raise it: nothing is due yet.
 */
export function hasNoConsumer(q: Pick<QueueStats, 'consumers' | 'waiting' | 'active'>): boolean {
  return q.consumers === 0 && q.waiting + q.active > 0;
}

/** Live workers that take runs from `queue` (a stopping worker takes none). */
export function consumersOf(queue: string, workers: readonly WorkerHeartbeat[]): number {
  return workers.filter((w) => w.queues.includes(queue) && !w.stopping).length;
}

export interface WorkerStatus extends WorkerHeartbeat {
  /** ms since its last heartbeat. */
  heartbeatAgeMs: number;
  /** Alive, has free slots, its queues have waiting runs, but it has not fetched for a while. */
  stuck: boolean;
}

export interface RunSummary {
  id: string;
  task: string;
  queue: string;
  state: TaskState;
  attempt: number;
  enqueuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Runtime of its last attempt, ms (finished runs only). */
  runtimeMs: number | null;
  /** The worker that took it last, if any. */
  worker: string | null;
  /** Present when the stored job could not be read whole (its unreadable fields are left out). */
  unparseable?: Unparseable;
}

export interface RunDetail extends RunSummary {
  payload: unknown;
  result: unknown;
  error: string | null;
  stack: string | null;
  progress: unknown;
  logs: string[];
  dueAt: string | null;
  children: string[];
}

/** A worker that has not fetched for this long while it could have is `stuck`. */
export const STUCK_AFTER_MS = 30_000;

const iso = (ms: number | undefined | null) => (ms ? new Date(ms).toISOString() : null);

/** The state of a BullMQ job in tq's words (retrying, cancelled and expired included). */
export async function runState(job: Job, queue: Queue): Promise<TaskState> {
  const state = await job.getState();
  // The job may have been read just before it failed: then its reason is not in this copy.
  if (state === 'failed') return failureState(job.failedReason ?? (await queue.getJob(job.id!))?.failedReason);
  return fromBullState(state, { willRetry: state === 'delayed' && job.attemptsMade > 0 });
}

/** Counts of every known queue (or of `only` those), with consumers counted from `workers`. */
export async function queueStats(admin: Admin, workers: readonly WorkerHeartbeat[], only?: readonly string[]): Promise<QueueStats[]> {
  const names = only ? [...only] : await admin.knownQueues();
  const { redis, prefix } = adminConnection(admin);
  const now = Date.now();
  return Promise.all(
    names.map(async (name) => {
      const queue = admin.queue(name);
      const [counts, paused, oldest] = await Promise.all([
        queue.getJobCounts('wait', 'prioritized', 'waiting-children', 'active', 'delayed', 'completed', 'failed'),
        queue.isPaused(),
        queue.getJobs(['wait'], 0, 0, true),
      ]);
      const ended = counts.failed ? await failedBreakdown(redis, prefix, name) : { cancelled: 0, expired: 0 };
      const oldestJob = oldest[0];
      return {
        name,
        waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: Math.max(0, (counts.failed ?? 0) - ended.cancelled - ended.expired),
        cancelled: ended.cancelled,
        expired: ended.expired,
        paused,
        oldestWaitingMs: oldestJob ? Math.max(0, now - (unwrap(oldestJob.data).enqueuedAt ?? oldestJob.timestamp)) : undefined,
        consumers: consumersOf(name, workers),
      };
    }),
  );
}

export async function workerStatuses(admin: Admin, stats?: readonly QueueStats[]): Promise<WorkerStatus[]> {
  const workers = await admin.workers();
  const now = Date.now();
  const waitingIn = new Map((stats ?? []).map((q) => [q.name, q.paused ? 0 : q.waiting]));
  return workers.map((w) => {
    const hasWork = w.queues.some((q) => (waitingIn.get(q) ?? 0) > 0);
    const freeSlots = w.active.length < w.concurrency * w.queues.length;
    return {
      ...w,
      heartbeatAgeMs: Math.max(0, now - w.at),
      stuck: !w.stopping && hasWork && freeSlots && now - w.lastFetchAt > STUCK_AFTER_MS,
    };
  });
}

const STATE_TYPES: Record<string, JobType[]> = {
  waiting: ['wait', 'prioritized', 'waiting-children'],
  delayed: ['delayed'],
  retrying: ['delayed'],
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
  cancelled: ['failed'],
  expired: ['failed'],
};

/** Runs known to Redis, newest first, filtered by state, task and queue. */
export async function listRuns(
  admin: Admin,
  filter: { state?: TaskState; task?: string; queue?: string; limit: number },
): Promise<RunSummary[]> {
  const types = filter.state
    ? STATE_TYPES[filter.state]!
    : (['wait', 'prioritized', 'waiting-children', 'active', 'delayed', 'completed', 'failed'] as JobType[]);
  const queues = filter.queue ? [filter.queue] : await admin.knownQueues();
  const out: RunSummary[] = [];
  // Read generously, since task and state filters apply after fetching.
  const window = filter.task || filter.state ? filter.limit * 5 + 100 : filter.limit;
  for (const q of queues) {
    const jobs = await admin.queue(q).getJobs(types, 0, window - 1, false);
    for (const job of jobs as Job[]) {
      if (!job?.id) continue;
      if (filter.task && job.name !== filter.task) continue;
      const state = await runState(job, admin.queue(q));
      if (filter.state && state !== filter.state) continue;
      out.push(summary(job, q, state));
    }
  }
  return out.sort((a, b) => b.enqueuedAt.localeCompare(a.enqueuedAt)).slice(0, filter.limit);
}

function summary(job: Job, queue: string, state: TaskState): RunSummary {
  const env = unwrap(job.data);
  const problem = unparseableOf(job);
  return {
    id: job.id!,
    task: job.name,
    queue,
    state,
    attempt: state === 'waiting' || state === 'delayed' ? job.attemptsMade : Math.max(1, job.attemptsMade + (state === 'active' ? 1 : 0)),
    enqueuedAt: new Date(env.enqueuedAt ?? job.timestamp).toISOString(),
    startedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
    runtimeMs: job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : null,
    worker: job.processedBy ?? null,
    ...(problem ? { unparseable: problem } : {}),
  };
}

/** Everything Redis knows about one run. */
export async function runDetail(admin: Admin, id: string): Promise<RunDetail | undefined> {
  const found = await admin.findRun(id);
  if (!found) return undefined;
  const { job, queue } = found;
  const state = await runState(job, admin.queue(queue));
  const [logs, deps] = await Promise.all([
    admin.queue(queue).getJobLogs(id, 0, 199, true),
    job.getDependencies().catch(() => ({ processed: {}, unprocessed: [] as string[] })),
  ]);
  const children = [...Object.keys(deps.processed ?? {}), ...(deps.unprocessed ?? [])].map((k) => k.split(':').pop()!);
  const base = summary(job, queue, state);
  return {
    ...base,
    payload: unwrap(job.data).payload,
    result: state === 'completed' ? (job.returnvalue ?? null) : null,
    error: job.failedReason || null,
    stack: job.stacktrace?.length ? job.stacktrace[job.stacktrace.length - 1]! : null,
    progress: job.progress ?? null,
    logs: logs.logs,
    dueAt: state === 'delayed' || state === 'retrying' ? iso(job.timestamp + (job.delay ?? 0)) : null,
    children,
  };
}

/**
 * Asks every live worker to answer through the control channel; returns round-trip times by
 * worker name (workers that did not answer within `timeoutMs` are absent).
 */
export async function pingWorkers(redisUrl: string, admin: Admin, timeoutMs = 2000): Promise<Map<string, number>> {
  const expected = (await admin.workers()).map((w) => w.name);
  const replies = new Map<string, number>();
  if (expected.length === 0) return replies;
  const { redis, prefix } = adminConnection(admin);
  const channel = tqKeys(prefix).reply(randomBytes(6).toString('hex'));
  const sub = await connect(redisUrl, { role: 'producer', name: 'tq-ping' });
  try {
    let done: () => void = () => undefined;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    sub.on('message', (_c: string, text: string) => {
      try {
        const reply = JSON.parse(text) as { name: string; sentAt: number };
        replies.set(reply.name, Date.now() - reply.sentAt);
        if (expected.every((n) => replies.has(n))) done();
      } catch {
        // ignore foreign messages
      }
    });
    await sub.subscribe(channel);
    await publishControl(redis, prefix, { type: 'ping', replyTo: channel, sentAt: Date.now() });
    await settlesWithin(all, timeoutMs);
    return replies;
  } finally {
    sub.disconnect();
  }
}
