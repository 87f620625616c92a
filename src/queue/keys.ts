/**
 * tq's own Redis keys.
 *
 * BullMQ's keys are `<prefix>:<queue>:<type>` (`tq:images:wait`, `tq:images:meta`, ...), and
 * tools that discover queues match them as `<prefix>:*:meta`, `<prefix>:*:id` and the like. tq's
 * keys are `<prefix>::tq:<name>`: the segment where a queue name would be is empty, which no
 * BullMQ queue can have (BullMQ refuses an empty name), and no tq key ends in a BullMQ key type
 * (names that users choose, such as a worker's or a schedule's, sit between fixed segments). So
 * BullMQ never touches a tq key and no tool can mistake one for a queue, yet every key stays under
 * `<prefix>:` (ACL key patterns such as `~tq:*` and `tq demo`'s clean-up still cover them) and
 * under the prefix's hash tag on a Redis Cluster (`{tq}::tq:...` is in the slot of `{tq}:...`).
 *
 * Layout 1 (before) was `<prefix>:_tq:<name>`, which BullMQ reads as a queue named `_tq`
 * (`tq:_tq:events` is that queue's events stream). `ensureLayout` moves it on start.
 */
export function tqKeys(prefix: string) {
  const base = `${prefix}::tq`;
  return {
    /** The run-event stream (history pipeline). */
    events: `${base}:run-events`,
    /** Layout version of tq's data under this prefix. */
    layout: `${base}:layout`,
    /** Held while one process moves an older layout's keys (see `ensureLayout`). */
    migrating: `${base}:layout-migrating`,
    /** Set of queue names that have ever been used under this prefix. */
    queues: `${base}:queues`,
    /** Beat: one hash per schedule (cursor, spec, lastFire, updatedAt), by schedule name. */
    beatSchedule: (name: string) => `${base}:beat:schedule:${name}:state`,
    /** Beat: fire times claimed but not yet confirmed enqueued (zset scored by claim time). */
    beatPending: `${base}:beat:pending`,
    /** Beat: names of the schedules that have state (so removed ones can be forgotten). */
    beatNames: `${base}:beat:names`,
    /** Pub/sub channel every worker listens to. */
    control: `${base}:control`,
    /** A durable cancel request for one run. */
    cancel: (id: string) => `${base}:cancel:${id}:request`,
    /** Heartbeat of one worker (JSON, with a TTL). */
    worker: (name: string) => `${base}:worker:${name}:heartbeat`,
    /** Who holds a worker name (`host:pid`, with the heartbeat's TTL): one live worker per name. */
    workerName: (name: string) => `${base}:worker:${name}:holder`,
    /** Sorted set of worker names by last heartbeat. */
    workers: `${base}:workers`,
    /** Channel a control request's answers come back on. */
    reply: (id: string) => `${base}:reply:${id}:channel`,
    /**
     * Why runs' earlier executions ended their worker (hash by `<queue>:<id>`: `count|final|reason`),
     * read by the next execution's gate: a run that ended its worker twice fails instead of a third.
     */
    runMarks: `${base}:marks`,
    /** Rate-limit state of one task (GCRA theoretical arrival time). */
    rate: (task: string) => `${base}:rate:${task}:slot`,
  };
}

export const REDIS_LAYOUT_VERSION = 2;

/**
 * Where layout 1 kept each key, and where layout 2 keeps it (`undefined`: not moved). Pure, so
 * the migration's mapping is tested without Redis.
 */
export function layoutOneKeyTarget(prefix: string, oldKey: string): string | undefined {
  const base = `${prefix}:_tq:`;
  if (!oldKey.startsWith(base)) return undefined;
  const rest = oldKey.slice(base.length);
  const keys = tqKeys(prefix);
  const fixed: Record<string, string> = {
    events: keys.events,
    queues: keys.queues,
    'beat:pending': keys.beatPending,
    'beat:names': keys.beatNames,
    workers: keys.workers,
    marks: keys.runMarks,
  };
  if (fixed[rest] !== undefined) return fixed[rest];
  const named: [string, (name: string) => string][] = [
    ['beat:schedule:', keys.beatSchedule],
    ['cancel:', keys.cancel],
    ['worker-name:', keys.workerName],
    ['worker:', keys.worker],
    ['rate:', keys.rate],
  ];
  for (const [head, to] of named) if (rest.startsWith(head) && rest.length > head.length) return to(rest.slice(head.length));
  // The layout key itself is rewritten (not moved); reply channels are not keys.
  return undefined;
}

/** Layout 1's keys that a still-running layout-1 process writes with type-checked commands. */
export function layoutOneGuardedKeys(prefix: string): string[] {
  const base = `${prefix}:_tq:`;
  return ['events', 'queues', 'workers', 'marks', 'beat:pending', 'beat:names'].map((k) => base + k);
}
