/**
 * What one `tq web` process holds open: an admin connection (reads and actions), a producer
 * (enqueue), this host's history kept current by a background recorder, the audit log, the
 * one run-event reader (live events and metrics), and the access policy.
 */
import type { ResolvedConfig, Settings } from '../config/index.js';
import { errorMessage } from '../core/errors.js';
import { redact } from '../core/json.js';
import { Admin, connect, Producer, queueStats, RunEventReader, runnableSince, workerStatuses, type Redis } from '../queue/index.js';
import { startRecorder, type RunningRecorder } from '../runtime/history.js';
import { queueJson, workerJson } from '../runtime/views.js';
import { TQ_VERSION } from '../runtime/version.js';
import type { InspectSources } from '../runtime/inspect-reads.js';
import { dueFireTimes, resolveSchedules, scheduleRow, type ResolvedSchedule, type ScheduleState } from '../beat/index.js';
import { createAuditLog, getMeta, HistoryQueries, openStore, type AuditLog, type Store } from '../store/index.js';
import type { AccessPolicy } from './auth.js';
import { EventHub } from './event-hub.js';
import { WebMetrics } from './metrics.js';

export interface WebLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface WebContext {
  readonly config: ResolvedConfig;
  readonly settings: Settings;
  readonly policy: AccessPolicy;
  readonly admin: Admin;
  readonly producer: Producer;
  readonly store: Store;
  readonly history: HistoryQueries;
  readonly audit: AuditLog;
  readonly hub: EventHub;
  readonly metrics: WebMetrics;
  readonly logger: WebLogger;
  readonly sources: InspectSources;
  /** Whether the connections to Redis take commands now (false while they reconnect). */
  redisUp(): boolean;
  /** Redis and SQLite answer (`/readyz`). */
  ready(): Promise<{ redis: boolean; sqlite: boolean }>;
  close(): Promise<void>;
}

export async function openWebContext(
  config: ResolvedConfig,
  settings: Settings,
  policy: AccessPolicy,
  logger: WebLogger,
): Promise<WebContext> {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  const close = async () => {
    for (const c of cleanup.reverse()) {
      await Promise.resolve(c()).catch((err: unknown) => logger.warn(`closing: ${errorMessage(err)}`));
    }
    cleanup.length = 0;
  };
  try {
    // 'client' connections: while Redis is down a request fails at once (503) instead of
    // waiting, and they reconnect by themselves when it is back (a long-running server).
    const admin = await Admin.connect(config, { ...settings, role: 'client', onWarning: (m) => logger.warn(m) });
    cleanup.push(() => admin.close());
    const producer = await Producer.connect(config, { ...settings, role: 'client', onWarning: (m) => logger.warn(m) });
    cleanup.push(() => producer.close());
    const store = openStore(settings.dbFile, { prefix: settings.prefix });
    cleanup.push(() => store.close());
    // Like every long-running tq process: keep this host's history current.
    const recorder: RunningRecorder = await startRecorder(store, settings, config, logger);
    cleanup.push(() => recorder.close());
    const history = new HistoryQueries(store.db, store.prefix);
    const sources: InspectSources = { config, prefix: settings.prefix, admin, history };

    const eventsRedis: Redis = await connect(settings.redisUrl, { role: 'worker', name: 'tq-web-events' });
    const hub = new EventHub({
      reader: new RunEventReader(eventsRedis, settings.prefix),
      backfill: admin.runEvents(),
      snapshot: async () => {
        const stats = await queueStats(admin, []);
        const workers = await workerStatuses(admin, stats);
        const withConsumers = await queueStats(admin, workers);
        return { queues: withConsumers.map(queueJson), workers: workers.map((w) => workerJson(w)) };
      },
      onError: (m) => logger.warn(m),
      // Clients see payloads as history stores them: `history.redact` keys masked.
      ...(config.history.redact.length > 0
        ? {
            redact: (events) =>
              events.map((e) => (e.payload === undefined ? e : { ...e, payload: redact(e.payload, config.history.redact) })),
          }
        : {}),
    });
    cleanup.push(async () => {
      const closing = hub.close();
      eventsRedis.disconnect();
      await closing;
    });

    const missedKey = `recorder_missed_total:${settings.prefix}`;
    const metrics = new WebMetrics(TQ_VERSION, async () => {
      const stats = await queueStats(admin, []);
      const workers = await workerStatuses(admin, stats);
      const queues = await queueStats(admin, workers);
      const since = await runnableSince(
        admin,
        queues.map((q) => q.name),
      );
      const resolved = resolveSchedules(config);
      const states = await admin.scheduleStates(resolved.map((r) => r.name));
      const now = Date.now();
      const schedules = resolved.map((r) => ({
        ...scheduleRow(r, states.get(r.name), now),
        overdue: overdueFires(r, states.get(r.name), now),
      }));
      const info = await admin.runEvents().info();
      return {
        queues,
        runnableSince: since,
        workers,
        schedules,
        streamLastId: info.lastId,
        recorderLastId: recorder.recorder.lastId,
        recorderBehindEvents: hub.eventsAfter(recorder.recorder.lastId),
        recorderMissed: Number(getMeta(store.db, missedKey) ?? 0),
      };
    });
    hub.onEvents((events) => metrics.observe(events));
    await hub.start();

    return {
      config,
      settings,
      policy,
      admin,
      producer,
      store,
      history,
      audit: createAuditLog(store.db),
      hub,
      metrics,
      logger,
      sources,
      redisUp: () => admin.connected && producer.connected,
      async ready() {
        const redis = await admin
          .knownQueues()
          .then(() => true)
          .catch(() => false);
        let sqlite = true;
        try {
          store.db.prepare('SELECT 1').get();
        } catch {
          sqlite = false;
        }
        return { redis, sqlite };
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** A beat deals with a fire time within a second or two; one a minute late has no beat to fire it. */
const OVERDUE_AFTER_MS = 60_000;

/**
 * Fire times of a schedule that came more than a minute ago and no beat has dealt with: while no
 * beat runs they pile up, and a beat that comes back treats them by the schedule's `missed`
 * policy. 0 for a disabled schedule or one no beat has seen yet.
 */
export function overdueFires(s: ResolvedSchedule, state: ScheduleState | undefined, now: number): number {
  if (!s.enabled || !state || state.spec !== s.spec || state.cursor >= now - OVERDUE_AFTER_MS) return 0;
  return dueFireTimes(s, state.cursor, now - OVERDUE_AFTER_MS, 1).count;
}
