/**
 * Files stored by a task's `fromArgs` whose runs were never enqueued (Redis down, a bad enqueue
 * option): their records must not stay `pending` forever, waiting for a run that does not exist.
 * One rule for every caller of `fromArgs` (the CLI's `tq enqueue`, the client's `enqueueFiles`).
 */
import { errorMessage } from './errors.js';
import type { RecordsStore } from './records.js';
import type { PreparedRun } from './task.js';

/** The reason recorded on such a record. */
export function notEnqueuedReason(err: unknown): string {
  return `not enqueued: ${errorMessage(err)}`;
}

/**
 * Marks the records (`meta.recordId`) of prepared runs that were not enqueued as `failed` with
 * the reason. Only records still `pending` change: one a worker already took is left to its run.
 */
export function failNotEnqueued(records: RecordsStore, prepared: readonly PreparedRun<unknown>[], err: unknown): void {
  for (const p of prepared) {
    const id = p.meta?.recordId;
    if (typeof id === 'string' && records.images.get(id)?.status === 'pending') {
      records.images.update(id, { status: 'failed', error: notEnqueuedReason(err) });
    }
  }
}
