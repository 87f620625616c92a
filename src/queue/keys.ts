/**
 * tq's own Redis keys. BullMQ's keys are `<prefix>:<queue>:...`; tq's live under
 * `<prefix>:_tq:...`, and queue names may not start with `_`, so the two never meet.
 */
export function tqKeys(prefix: string) {
  const base = `${prefix}:_tq`;
  return {
    /** The run-event stream (history pipeline). */
    events: `${base}:events`,
    /** Layout version of tq's data under this prefix. */
    layout: `${base}:layout`,
    /** Set of queue names that have ever been used under this prefix. */
    queues: `${base}:queues`,
    /** Beat: one hash per schedule (cursor, spec, lastFire, updatedAt), by schedule name. */
    beatSchedule: (name: string) => `${base}:beat:schedule:${name}`,
    /** Beat: fire times claimed but not yet confirmed enqueued (zset scored by claim time). */
    beatPending: `${base}:beat:pending`,
    /** Beat: names of the schedules that have state (so removed ones can be forgotten). */
    beatNames: `${base}:beat:names`,
    /** Pub/sub channel every worker listens to. */
    control: `${base}:control`,
    /** A durable cancel request for one run. */
    cancel: (id: string) => `${base}:cancel:${id}`,
    /** Heartbeat of one worker (JSON, with a TTL). */
    worker: (name: string) => `${base}:worker:${name}`,
    /** Who holds a worker name (`host:pid`, with the heartbeat's TTL): one live worker per name. */
    workerName: (name: string) => `${base}:worker-name:${name}`,
    /** Sorted set of worker names by last heartbeat. */
    workers: `${base}:workers`,
    /** Channel a control request's answers come back on. */
    reply: (id: string) => `${base}:reply:${id}`,
    /**
     * Why runs' earlier executions ended their worker (hash by `<queue>:<id>`: `count|final|reason`),
     * read by the next execution's gate: a run that ended its worker twice fails instead of a third.
     */
    runMarks: `${base}:marks`,
    /** Rate-limit state of one task (GCRA theoretical arrival time). */
    rate: (task: string) => `${base}:rate:${task}`,
  };
}

export const REDIS_LAYOUT_VERSION = 1;
