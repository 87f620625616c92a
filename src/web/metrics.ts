/**
 * Prometheus metrics of the whole deployment, served at `/metrics`. Names under `tq_`, base
 * units (seconds, bytes), `_total` only on counters; no run id or error text is ever a label.
 *
 * Two sources: gauges read at scrape time with a fixed number of Redis commands per queue,
 * worker and schedule (counts, never a scan of a queue's runs or of the keyspace), and
 * counters and histograms fed by the server's one reader of the run-event stream (so they count
 * from when this server started, as Prometheus counters do after a restart).
 */
import client from 'prom-client';
import type { RunEvent } from '../core/run-events.js';
import { compareStreamIds } from '../core/run-events.js';
import type { QueueStats, WorkerStatus } from '../queue/index.js';
import type { ScheduleRow } from '../beat/index.js';

/** Histogram buckets from 5 ms to 30 min, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];

const RUN_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'cancelled', 'expired'] as const;

/** What a scrape reads (see `snapshot` in the server). */
export interface MetricsSnapshot {
  queues: readonly QueueStats[];
  /** Per queue: since when its longest-waiting startable run has been due (see `runnableSince`), beyond `oldestWaitingMs`. */
  runnableSince: ReadonlyMap<string, number>;
  workers: readonly WorkerStatus[];
  /** With the fire times overdue by more than a minute (no beat dealt with them). */
  schedules: readonly (ScheduleRow & { overdue: number })[];
  /** The stream's newest id and this host's recorder's last applied id (their time apart is the lag). */
  streamLastId: string | undefined;
  recorderLastId: string;
  /** Run events in the stream after the recorder's position (as far as the hub's buffer tells). */
  recorderBehindEvents: number;
  /** Stream entries the recorder found trimmed before it read them (ever). */
  recorderMissed: number;
}

/** Milliseconds of a stream id (`1700000000000-3`). */
const idMs = (id: string) => Number(id.split('-')[0]);

export class WebMetrics {
  readonly registry = new client.Registry();
  private readonly finished: client.Counter<'queue' | 'task' | 'state'>;
  private readonly retries: client.Counter<'queue' | 'task'>;
  private readonly duration: client.Histogram<'queue' | 'task'>;
  private readonly wait: client.Histogram<'queue' | 'task'>;
  /** When each run became due, until it starts (bounded: the oldest are forgotten first). */
  private readonly dueAt = new Map<string, number>();

  constructor(version: string, snapshot: () => Promise<MetricsSnapshot>) {
    const r = this.registry;
    new client.Gauge({ name: 'tq_build_info', help: 'tq version of this server', labelNames: ['version'], registers: [r] })
      .labels(version)
      .set(1);
    this.finished = new client.Counter({
      name: 'tq_runs_finished_total',
      help: 'Runs that reached a final state, by queue, task and state (completed, failed, cancelled, expired)',
      labelNames: ['queue', 'task', 'state'],
      registers: [r],
    });
    this.retries = new client.Counter({
      name: 'tq_run_retries_total',
      help: 'Failed attempts that were scheduled for another attempt',
      labelNames: ['queue', 'task'],
      registers: [r],
    });
    this.duration = new client.Histogram({
      name: 'tq_run_duration_seconds',
      help: 'How long an attempt ran (start to end)',
      labelNames: ['queue', 'task'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });
    this.wait = new client.Histogram({
      name: 'tq_run_wait_seconds',
      help: 'How long a run waited to start after it became due (enqueue time, or its delay/ETA/retry time)',
      labelNames: ['queue', 'task'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });

    // One collect reads everything once and sets every gauge (the first gauge's collect starts
    // it: prom-client calls them in registration order, synchronously, within one scrape).
    let pending: Promise<void> | undefined;
    let first = true;
    const gauge = (name: string, help: string, labelNames: string[]) => {
      const starts = first;
      first = false;
      return new client.Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        collect: starts
          ? async () => {
              pending = collectAll();
              await pending;
            }
          : async () => {
              await pending;
            },
      });
    };
    const runs = gauge('tq_runs', 'Runs in Redis now, by queue and state', ['queue', 'state']);
    const oldest = gauge(
      'tq_queue_oldest_runnable_age_seconds',
      'How long the longest-waiting run that could start now has been due: waiting, prioritized, or delayed and overdue (0: none)',
      ['queue'],
    );
    const paused = gauge('tq_queue_paused', '1 when the queue is paused', ['queue']);
    const consumers = gauge('tq_workers_online', 'Live workers consuming the queue', ['queue']);
    const up = gauge('tq_worker_up', '1 for each live worker (from its heartbeat)', ['worker']);
    const lastFetch = gauge('tq_worker_last_fetch_timestamp_seconds', 'When the worker last took (or looked for) a run', ['worker']);
    const stuck = gauge('tq_worker_stuck', '1 when the worker has free slots and waiting work but fetched nothing for 30 s', ['worker']);
    const active = gauge('tq_worker_active_runs', 'Runs the worker is running now', ['worker']);
    const lastFire = gauge('tq_schedule_last_fire_timestamp_seconds', 'The last fire time a beat enqueued', ['schedule']);
    const nextFire = gauge('tq_schedule_next_fire_timestamp_seconds', 'The next fire time of the schedule', ['schedule']);
    const overdue = gauge(
      'tq_schedule_overdue_fires',
      'Fire times due over a minute ago that no beat has dealt with (no beat running); a returning beat applies the missed policy',
      ['schedule'],
    );
    const lag = gauge('tq_recorder_lag_seconds', "Time between the stream's newest event and the newest this host's history applied", []);
    const lagEvents = gauge('tq_recorder_lag_events', "Run events in the stream that this host's history has not applied yet", []);
    const gaps = gauge('tq_recorder_missed_entries', "Stream entries trimmed before this host's history read them (ever)", []);

    async function collectAll(): Promise<void> {
      const s = await snapshot();
      const now = Date.now();
      for (const g of [runs, oldest, paused, consumers, up, lastFetch, stuck, active, lastFire, nextFire, overdue]) g.reset();
      for (const q of s.queues) {
        for (const state of RUN_STATES) runs.labels(q.name, state).set(q[state]);
        const since = s.runnableSince.get(q.name);
        const overdueMs = since === undefined ? 0 : Math.max(0, now - since);
        oldest.labels(q.name).set(Math.max(q.oldestWaitingMs ?? 0, overdueMs) / 1000);
        paused.labels(q.name).set(q.paused ? 1 : 0);
        consumers.labels(q.name).set(q.consumers);
      }
      for (const w of s.workers) {
        up.labels(w.name).set(1);
        lastFetch.labels(w.name).set(w.lastFetchAt / 1000);
        stuck.labels(w.name).set(w.stuck ? 1 : 0);
        active.labels(w.name).set(w.active.length);
      }
      for (const sch of s.schedules) {
        if (sch.lastFire) lastFire.labels(sch.name).set(Date.parse(sch.lastFire) / 1000);
        if (sch.nextFire) nextFire.labels(sch.name).set(Date.parse(sch.nextFire) / 1000);
        overdue.labels(sch.name).set(sch.overdue);
      }
      const behind =
        s.streamLastId && compareStreamIds(s.streamLastId, s.recorderLastId) > 0
          ? (idMs(s.streamLastId) - idMs(s.recorderLastId)) / 1000
          : 0;
      lag.set(Math.max(0, behind));
      lagEvents.set(s.recorderBehindEvents);
      gaps.set(s.recorderMissed);
    }
  }

  /** Feeds the counters and histograms from run events (the hub's one reader). */
  observe(events: readonly RunEvent[]): void {
    for (const e of events) {
      const labels = { queue: e.queue, task: e.task };
      switch (e.type) {
        case 'enqueued':
          this.due(e.jobId, e.dueAt ?? e.at);
          break;
        case 'retrying':
          this.retries.inc(labels);
          this.attemptEnded(e);
          this.due(e.jobId, e.dueAt ?? e.at);
          break;
        case 'retried':
        case 'requeued':
          this.due(e.jobId, e.at);
          break;
        case 'active':
          this.started(e, e.at);
          break;
        case 'completed':
        case 'failed':
        case 'cancelled':
        case 'expired':
          this.finished.inc({ ...labels, state: e.type });
          this.attemptEnded(e);
          this.dueAt.delete(e.jobId);
          break;
        default:
          break;
      }
    }
  }

  private due(id: string, at: number): void {
    this.dueAt.delete(id);
    this.dueAt.set(id, at);
    if (this.dueAt.size > 200_000) this.dueAt.delete(this.dueAt.keys().next().value!);
  }

  private started(e: RunEvent, at: number): void {
    const due = this.dueAt.get(e.jobId);
    if (due === undefined) return;
    this.dueAt.delete(e.jobId);
    this.wait.observe({ queue: e.queue, task: e.task }, Math.max(0, at - due) / 1000);
  }

  private attemptEnded(e: RunEvent): void {
    // The attempt's own `active` event may have been left out (see coalesceAttempts).
    if (e.startedAt !== undefined) this.started(e, e.startedAt);
    if (e.runtimeMs !== undefined) this.duration.observe({ queue: e.queue, task: e.task }, e.runtimeMs / 1000);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
