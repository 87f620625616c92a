import { formatDuration } from '../core/duration.js';
import { unparseableReason } from '../queue/index.js';
import type { RunDetailView } from '../runtime/views.js';
import { colorState, jsonText, type Output } from './output.js';
import { when } from './table.js';

export { mergeDetail, type RunDetailView } from '../runtime/views.js';

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
