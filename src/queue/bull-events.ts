/**
 * BullMQ's own event stream of a queue (`<prefix>:<queue>:events`), read as run events. BullMQ's
 * scripts write it in the same step as every state change, whoever asked for the change (a tq
 * process, bull-board, a plain BullMQ producer or worker), so it is the one place that sees
 * every move. Pure mapping: the fields of one entry (and, when read, the job's hash) in, a run
 * event out.
 *
 * What BullMQ writes (6.x scripts): `added` {jobId, name}; `waiting` {jobId, prev?} (prev
 * absent: just added; `delayed`: promoted; `active`: handed back or retried at once;
 * `failed`/`completed`: retried by an operator); `delayed` {jobId, delay}; `active`;
 * `completed` {returnvalue}; `failed` {failedReason} (the last attempt only); `progress` {data};
 * `removed` {prev}. The rest (`drained`, `cleaned`, `stalled`, `retries-exhausted`, ...) moves
 * no run history keeps.
 */
import type { RunEvent } from '../core/run-events.js';
import { failureState } from '../core/run-outcome.js';
import { unwrap } from './envelope.js';

/** The job hash fields read for a run history does not know yet (a plain producer's). */
export const JOB_FIELDS = ['name', 'data', 'delay', 'ats'] as const;

/** What the job's hash said when it was read (absent fields: the job is gone). */
export interface JobHash {
  name?: string | undefined;
  data?: string | undefined;
  delay?: string | undefined;
  ats?: string | undefined;
}

/** An entry's fields (`[name, value, name, value, ...]`) as a map. */
export function entryFields(fields: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  return map;
}

/** Entry types that name a run and may move it. */
const RUN_EVENTS = new Set(['added', 'waiting', 'delayed', 'active', 'completed', 'failed', 'progress', 'removed']);

/** Whether an entry of this type names a run history follows. */
export function movesRun(event: string | undefined): boolean {
  return event !== undefined && RUN_EVENTS.has(event);
}

/**
 * The run event an entry stands for, or undefined for an entry history does not need. `at` is
 * the entry id's time (the Redis server's clock, like every other history time).
 */
export function fromQueueEntry(
  queue: string,
  entryId: string,
  fields: ReadonlyMap<string, string>,
  job: JobHash | undefined,
  task: string,
): RunEvent | undefined {
  const type = fields.get('event');
  const jobId = fields.get('jobId');
  if (!movesRun(type) || !jobId) return undefined;
  const at = Number(entryId.split('-')[0]);
  const attempt = Math.max(0, Number(job?.ats ?? 0) || 0);
  const base = { jobId, task, queue, at, attempt };
  const prev = fields.get('prev');
  switch (type) {
    case 'added': {
      const event: RunEvent = { ...base, type: 'enqueued', attempt: 0, observed: {} };
      if (job?.data !== undefined) {
        const { payload, enqueuedAt } = unwrap(parseJson(job.data));
        event.payload = payload;
        // The entry's own time is the Redis server's, like tq's enqueue time (the job's
        // `timestamp` is the producer's clock, which may be off).
        if (enqueuedAt !== undefined) event.at = enqueuedAt;
        const delay = Number(job.delay ?? 0);
        if (delay > 0) event.dueAt = event.at + delay;
      }
      return event;
    }
    case 'waiting':
      // Just added: `added` said so already.
      if (prev === undefined) return undefined;
      if (prev === 'failed' || prev === 'completed') return { ...base, type: 'retried', observed: { prev } };
      if (prev === 'active') return { ...base, type: 'requeued', observed: { prev } };
      // Promoted (delayed -> waiting), or its children are done: due now.
      return { ...base, type: 'delayed', dueAt: at, observed: { prev } };
    case 'delayed': {
      const dueAt = Number(fields.get('delay'));
      return {
        ...base,
        type: 'delayed',
        ...(Number.isFinite(dueAt) ? { dueAt } : {}),
        // No error: the job's `failedReason` when read may already be a later attempt's.
        observed: {},
      };
    }
    case 'active':
      return { ...base, type: 'active', observed: {} };
    case 'completed': {
      const value = fields.get('returnvalue');
      return { ...base, type: 'completed', result: value === undefined ? null : parseJson(value), observed: {} };
    }
    case 'failed': {
      const error = fields.get('failedReason') ?? 'failed (no reason stored)';
      return { ...base, type: failureState(error), error, observed: {} };
    }
    case 'progress': {
      const data = fields.get('data');
      return { ...base, type: 'progress', progress: data === undefined ? null : parseJson(data), observed: {} };
    }
    case 'removed':
      return {
        ...base,
        type: 'cancelled',
        error: `removed from Redis by another client while ${prev ?? 'pending'} (bull-board, Queue#remove, a plain BullMQ client); it never ran to an end`,
        observed: { prev: prev ?? 'unknown' },
      };
    default:
      return undefined;
  }
}

/** Text this long may hide nesting too deep to write back as JSON (checked only then). */
const DEEP_CHECK_CHARS = 10_000;

/**
 * A stored value as history can keep it: the parsed JSON; the text itself when it is not JSON
 * (a plain BullMQ client may store anything); a note when it nests too deep to be written back
 * (JSON.parse copes, JSON.stringify overflows the stack): one such job must never stop history.
 */
function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return text;
    throw err;
  }
  if (text.length > DEEP_CHECK_CHARS && value !== null && typeof value === 'object') {
    try {
      JSON.stringify(value);
    } catch (err) {
      if (err instanceof RangeError) return `(not recorded: ${text.length} characters of JSON nested too deep to store)`;
      throw err;
    }
  }
  return value;
}
