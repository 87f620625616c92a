/**
 * What `tq inspect schedule` shows: every schedule of the config with its last and next fire.
 * The Redis side comes in as a `BeatStateReader` (`new RedisBeatStore(redis, prefix)` from
 * `src/queue`), so this stays free of I/O of its own.
 */
import type { MissedPolicy, ScheduleDefinition } from '../core/task.js';
import { nextFireAfter, resolveSchedules, type ResolvedSchedule } from './schedule.js';
import type { BeatStateReader, ScheduleState } from './store.js';

/** One schedule as inspect shows it; times are ISO 8601 UTC (`formatInZone` renders them). */
export interface ScheduleRow {
  name: string;
  task: string;
  /** The cron text (`0 3 * * *`, `@daily`) or `every 30s`. */
  expression: string;
  /** IANA zone the schedule is read in. */
  zone: string;
  enabled: boolean;
  missed: MissedPolicy;
  /** The last fire time a beat enqueued; null when none ever was. */
  lastFire: string | null;
  /** The next fire time after now; null when disabled or the expression has none left. */
  nextFire: string | null;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** The row of one schedule, from its shared state (undefined when no beat has seen it yet). */
export function scheduleRow(s: ResolvedSchedule, state: ScheduleState | undefined, now: number): ScheduleRow {
  // A cursor ahead of now (another host's clock runs ahead) means nothing fires before it.
  const from = state && state.spec === s.spec ? Math.max(now, state.cursor) : now;
  return {
    name: s.name,
    task: s.task,
    expression: s.expression,
    zone: s.zone,
    enabled: s.enabled,
    missed: s.missed,
    lastFire: iso(state?.lastFire),
    nextFire: s.enabled ? iso(nextFireAfter(s, from)) : null,
  };
}

/**
 * The rows of every schedule in `config`, sorted by name. For `tq inspect schedule`:
 * `scheduleRows(config, new RedisBeatStore(redis, settings.prefix))`.
 */
export async function scheduleRows(
  config: { readonly schedules: Readonly<Record<string, ScheduleDefinition>>; readonly timezone: string },
  reader: BeatStateReader,
  now = Date.now(),
): Promise<ScheduleRow[]> {
  const schedules = resolveSchedules(config);
  const states = await reader.read(schedules.map((s) => s.name));
  return schedules.map((s) => scheduleRow(s, states.get(s.name), now));
}
