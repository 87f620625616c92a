import { UsageError } from '../core/errors.js';

/**
 * A new run id: time-sortable base36 (ms) plus 8 random base36 characters, e.g.
 * `mi5x3k2a0f8c2kd9qz`. Unique across queues (BullMQ's own numeric ids restart per queue) and
 * never all digits, which BullMQ refuses for custom ids.
 */
export function newRunId(now = Date.now()): string {
  // 8 random base36 digits (41 bits). Math.random (xorshift128+, seeded per process from the
  // system's entropy) is plenty for uniqueness and costs a fraction of drawing crypto bytes;
  // run ids are identifiers, not secrets.
  // Eight digits picked one by one from the alphabet: the same ids as formatting one random
  // number in base 36, at a fifth of the cost (it is paid by every enqueue).
  let random = '';
  for (let i = 0; i < 8; i++) random += BASE36[(Math.random() * 36) | 0];
  if (now !== lastMs) {
    lastMs = now;
    lastMsText = now.toString(36);
  }
  return lastMsText + random;
}

/** The time part of the last id (runs enqueued in the same millisecond share it). */
let lastMs = Number.NaN;
let lastMsText = '';

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Checks a user-chosen run id (`--id`). */
export function checkRunId(id: string): string {
  if (id.length === 0 || id.length > 200) throw new UsageError('--id must be 1 to 200 characters');
  if (id.includes(':')) throw new UsageError(`--id "${id}" must not contain ':' (Redis key separator)`);
  if (/^\d+$/.test(id)) throw new UsageError(`--id "${id}" must not be only digits (BullMQ reserves those); add a letter`);
  return id;
}
