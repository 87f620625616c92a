/**
 * How `tq inspect` shows what it read: the human tables and the `--json` shapes of queues,
 * workers, schedules and runs (the JSON shapes live in runtime/views.ts, shared with tq web). Pure functions of the data and the output's colours.
 */
import { formatBytes, formatDuration } from '../core/duration.js';
import { clockWarning, describeOffset } from '../core/clock-offset.js';
import { unparseableLabel, type QueueStats, type Unparseable, type WorkerStatus } from '../queue/index.js';
import { queueFlags } from '../runtime/views.js';
import type { ScheduleRow } from '../beat/index.js';
import { colorState, type Output } from './output.js';
import { age, table, when } from './table.js';

export function queuesTable(out: Output, stats: QueueStats[]): string {
  if (stats.length === 0) return '(no queues yet)';
  return table(
    out,
    ['queue', 'waiting', 'active', 'delayed', 'completed', 'failed', 'cancelled', 'expired', 'oldest', 'consumers', 'flags'],
    stats.map((q) => [
      q.name,
      q.waiting,
      q.active,
      q.delayed,
      q.completed,
      q.failed,
      q.cancelled,
      q.expired,
      age(q.oldestWaitingMs),
      q.consumers,
      queueFlags(q)
        .map((f) => (f === 'no-consumer' ? out.color.red(f) : out.color.yellow(f)))
        .join(' '),
    ]),
  );
}

/** A worker's clock against Redis's: `3 ms behind`, yellow past a second (see README, Clocks). */
const clockCell = (out: Output, offsetMs: number) =>
  clockWarning(offsetMs) ? out.color.yellow(describeOffset(offsetMs)) : describeOffset(offsetMs);

/**
 * The workers table. `seen` is the heartbeat's age (how long since the worker last said it is
 * alive), named apart from `tq beat`, the scheduler.
 */
export function workersTable(out: Output, workers: WorkerStatus[], ping?: Map<string, number>): string {
  if (workers.length === 0) return '(no live workers)';
  return table(
    out,
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
      'seen',
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
      w.clockOffsetMs === undefined ? '-' : clockCell(out, w.clockOffsetMs),
      ...(ping ? [ping.has(w.name) ? `${ping.get(w.name)} ms` : out.color.red('no answer')] : []),
      [
        w.stopping ? out.color.yellow('stopping') : '',
        w.stuck ? out.color.red('stuck') : '',
        w.zombies ? out.color.yellow(`${w.zombies} zombie(s)`) : '',
      ]
        .filter(Boolean)
        .join(' '),
    ]),
  );
}

export function scheduleTable(out: Output, rows: ScheduleRow[]): string {
  if (rows.length === 0) return '(no schedules)';
  return table(
    out,
    ['schedule', 'task', 'expression', 'zone', 'last fire', 'next fire'],
    rows.map((r) => [r.name, r.task, r.expression, r.zone, when(r.lastFire), r.enabled ? when(r.nextFire) : out.color.dim('disabled')]),
  );
}

/** One line of a runs table (from Redis or from history). */
export interface RunLine {
  id: string;
  task: string;
  queue: string;
  state: string;
  attempt: number;
  enqueuedAt: string | null;
  runtimeMs?: number | null;
  worker?: string | null;
  unparseable?: Unparseable;
}

export function runsTable(out: Output, rows: RunLine[]): string {
  if (rows.length === 0) return '(no runs)';
  return table(
    out,
    ['enqueued', 'id', 'task', 'queue', 'state', 'attempt', 'runtime', 'worker'],
    rows.map((r) => [
      when(r.enqueuedAt),
      r.id,
      r.unparseable ? `${r.task} ${out.color.red(unparseableLabel(r.unparseable))}` : r.task,
      r.queue,
      colorState(out.color, r.state),
      r.attempt,
      r.runtimeMs != null ? formatDuration(r.runtimeMs) : '-',
      r.worker ?? '-',
    ]),
  );
}

export { historyJson, queueJson, queueFlags, workerJson } from '../runtime/views.js';
