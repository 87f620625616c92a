import { randomBytes } from 'node:crypto';
import { UsageError } from '../core/errors.js';

/**
 * A new run id: time-sortable base36 (ms) plus 8 random base36 characters, e.g.
 * `mi5x3k2a0f8c2kd9qz`. Unique across queues (BullMQ's own numeric ids restart per queue) and
 * never all digits, which BullMQ refuses for custom ids.
 */
export function newRunId(now = Date.now()): string {
  // 48 random bits, the last 8 base36 digits of them (exact: 2^48 < 2^53).
  const random = (randomUint48() % 36 ** 8).toString(36).padStart(8, '0');
  return `${now.toString(36)}${random}`;
}

/** Random bytes drawn 6 KiB at a time: one `randomBytes` call per run id costs more than the rest of an enqueue. */
let pool = Buffer.alloc(0);
let offset = 0;

function randomUint48(): number {
  if (offset + 6 > pool.length) {
    pool = randomBytes(6 * 1024);
    offset = 0;
  }
  const n = pool.readUIntBE(offset, 6);
  offset += 6;
  return n;
}

/** Checks a user-chosen run id (`--id`). */
export function checkRunId(id: string): string {
  if (id.length === 0 || id.length > 200) throw new UsageError('--id must be 1 to 200 characters');
  if (id.includes(':')) throw new UsageError(`--id "${id}" must not contain ':' (Redis key separator)`);
  if (/^\d+$/.test(id)) throw new UsageError(`--id "${id}" must not be only digits (BullMQ reserves those); add a letter`);
  return id;
}
