export { Beat, systemClock, type BeatLogger, type BeatOptions, type Clock, type Dispatch } from './beat.js';
export { MISSED_ALL_CAP, onTimeWindow, selectDue, keepFor, type DueSelection } from './missed.js';
export { scheduleRunId, parseScheduleRunId, encodeScheduleName } from './run-id.js';
export {
  CRON_ALIASES,
  cronProblem,
  dueFireTimes,
  nextFireAfter,
  nextFireTimes,
  resolveSchedule,
  resolveSchedules,
  scheduleProblems,
  type DueFireTimes,
  type ResolvedSchedule,
  type ScheduleProblem,
} from './schedule.js';
export { scheduleRow, scheduleRows, type ScheduleRow } from './status.js';
export type { BeatBackend, BeatStateReader, BeatStore, Claim, EnqueueRun, PendingFire, ScheduleState } from './store.js';
export { formatInZone } from './zone.js';
