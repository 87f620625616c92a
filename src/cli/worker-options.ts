import { UsageError } from '../core/errors.js';
import { isQueueName, QUEUE_NAME_RULE } from '../core/names.js';

/** `-c, --concurrency N`: an integer from 1 to 1000, or `fallback` when not given. */
export function parseConcurrency(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`--concurrency must be an integer from 1 to 1000 (got "${value}")`);
  return n;
}

/** `-Q, --queues a,b`: the names, deduplicated; undefined when not given (every queue of the config). */
export function parseQueues(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const queues = [
    ...new Set(
      value
        .split(',')
        .map((q) => q.trim())
        .filter(Boolean),
    ),
  ];
  if (queues.length === 0) throw new UsageError('--queues needs at least one queue name');
  for (const q of queues) if (!isQueueName(q)) throw new UsageError(`queue "${q}" must be ${QUEUE_NAME_RULE}`);
  return queues;
}
