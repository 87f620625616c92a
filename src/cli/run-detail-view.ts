import { formatDuration } from '../core/duration.js';
import { isFinalState } from '../core/states.js';
import { unparseableReason, type RunDetail } from '../queue/index.js';
import type { TaskRunRow } from '../store/index.js';
import { colorState, jsonText, type Output } from './output.js';
import { when } from './table.js';

/** One run as `tq inspect task` shows it: Redis's view when it has the run, else history's. */
export type RunDetailView = RunDetail & { errors: unknown[]; source: 'redis' | 'history' };

function detailFromHistory(row: TaskRunRow): RunDetail & { errors: unknown[] } {
  const parse = (t: string | null) => (t === null ? null : (JSON.parse(t) as unknown));
  return {
    id: row.job_id,
    task: row.task,
    queue: row.queue,
    state: row.state,
    attempt: row.attempt,
    enqueuedAt: row.enqueued_at ?? row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    payload: parse(row.payload),
    result: parse(row.result),
    error: row.error,
    stack: row.stack,
    progress: parse(row.progress),
    logs: (parse(row.logs) as string[] | null) ?? [],
    worker: row.worker,
    runtimeMs: row.runtime_ms,
    dueAt: row.due_at,
    children: [],
    errors: (parse(row.errors) as unknown[] | null) ?? [],
  };
}

/**
 * Redis's detail completed by history (earlier attempts' errors, logs, a start Redis no longer
 * says), or history's alone. A finished run's progress is history's: the last progress a
 * handler reports reaches history with the run's end, while Redis may hold an earlier one.
 */
export function mergeDetail(live: RunDetail | undefined, row: TaskRunRow | undefined): RunDetailView {
  const fromHistory = row ? detailFromHistory(row) : undefined;
  if (!live) return { ...fromHistory!, source: 'history' };
  const finalProgress = fromHistory && isFinalState(live.state) && fromHistory.progress !== null;
  return {
    ...live,
    startedAt: live.startedAt ?? fromHistory?.startedAt ?? null,
    progress: finalProgress ? fromHistory.progress : live.progress,
    errors: fromHistory?.errors ?? [],
    logs: live.logs.length ? live.logs : (fromHistory?.logs ?? []),
    source: 'redis',
  };
}

/** The human form of `tq inspect task`. */
export function printRunDetail(out: Output, detail: RunDetailView): void {
  const field = (k: string, v: string) => out.print(`${out.color.bold(k.padEnd(10))} ${v}`);
  field('run', `${detail.id}  (${detail.source === 'redis' ? 'live in Redis' : 'from history; Redis no longer has it'})`);
  field('task', `${detail.task} on queue ${detail.queue}`);
  field(
    'state',
    `${colorState(out.color, detail.state)}  attempt ${detail.attempt}${detail.dueAt ? `, next at ${when(detail.dueAt)}` : ''}`,
  );
  field('worker', detail.worker ?? '-');
  field(
    'times',
    `enqueued ${when(detail.enqueuedAt)}, started ${when(detail.startedAt)}, finished ${when(detail.finishedAt)}${detail.runtimeMs != null ? `, ran ${formatDuration(detail.runtimeMs)}` : ''}`,
  );
  const problem = detail.unparseable;
  if (problem) field('stored', out.color.red(unparseableReason(problem)));
  if (detail.progress !== null && detail.progress !== undefined && detail.progress !== 0) field('progress', jsonText(detail.progress));
  field('payload', problem?.field === 'data' ? out.color.dim('(unparseable data)') : jsonText(detail.payload));
  if (detail.state === 'completed') field('result', jsonText(detail.result));
  if (detail.error) field('error', out.color.red(detail.error));
  for (const e of detail.errors as { attempt: number; error: string }[])
    if (e.error !== detail.error || detail.errors.length > 1) field(`  #${e.attempt}`, e.error);
  if (detail.stack) out.print(out.color.dim(detail.stack));
  if (detail.children.length) field('children', detail.children.join(', '));
  if (detail.logs.length) {
    out.print(out.color.bold('logs'));
    for (const l of detail.logs) out.print(`  ${l}`);
  }
}
