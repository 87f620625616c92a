import type { EnqueuedRun } from '../queue/index.js';
import type { Store } from '../store/index.js';

/**
 * The rule for an enqueue that names its run (`--id`, `enqueue(..., { id })`, a beat's fire
 * time): an id names one run for good. Redis keeps finished runs only up to the task's `keep`,
 * and BullMQ takes an id it no longer has as new, so the check in Redis alone would run a
 * finished run again; history outlives Redis, so an id it knows is an existing run and nothing
 * is added. Returns that run as an enqueue that found it would (`existed: true`, history's state).
 */
export function runKnownToHistory(store: Store, id: string): EnqueuedRun | undefined {
  const row = store.runs.get(id);
  if (!row) return undefined;
  // History's state may be any run state; the enqueue result's type names only the two an add makes.
  return { id: row.job_id, task: row.task, queue: row.queue, state: row.state as EnqueuedRun['state'], existed: true };
}
