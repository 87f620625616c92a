/**
 * Names and limits every layer checks the same way (config, CLI flags, beat schedules, the
 * producer). Stated once here so a message or a bound cannot drift between copies.
 */

/** Queue names: what BullMQ and Redis keys take safely; a leading `_` is reserved for tq. */
export const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
export const QUEUE_NAME_RULE = 'letters, digits, _ . - (at most 100, not starting with _ . -)';

/**
 * Key prefixes (`--prefix`): shorter, the same characters, and at most one Redis Cluster hash
 * tag (`{tq}`, `app{tq}`): on a cluster every key of a prefix must land in one slot (BullMQ's
 * scripts touch several keys at once), which only a tag guarantees.
 */
export const PREFIX_NAME = /^(?=.{1,64}$)(?:[A-Za-z0-9][A-Za-z0-9_.-]*|[A-Za-z0-9_.-]*\{[A-Za-z0-9_.-]+\}[A-Za-z0-9_.-]*)$/;
export const PREFIX_RULE = "letters, digits, _ . - and at most one hash tag such as {tq} (no ':'), at most 64";

export function isQueueName(value: unknown): value is string {
  return typeof value === 'string' && QUEUE_NAME.test(value);
}

/** BullMQ's highest priority number (lower runs first). */
export const MAX_PRIORITY = 2_097_151;
export const PRIORITY_RULE = `an integer from 0 to ${MAX_PRIORITY}, lower runs first`;

export function isPriority(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_PRIORITY;
}

/** Whether `zone` is an IANA time zone this Node (its ICU data) knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
