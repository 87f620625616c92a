import { describe, expect, it } from 'vitest';
import { isPriority, isQueueName, isTimeZone, MAX_PRIORITY, PREFIX_NAME, PRIORITY_RULE, QUEUE_NAME_RULE } from '../../src/core/names.js';

describe('queue names', () => {
  it('takes letters, digits, _ . - up to 100, not starting with _ . -', () => {
    for (const ok of ['default', 'images', 'a', 'Q1', 'emails.high', 'a_b-c', 'x'.repeat(100)]) expect(isQueueName(ok)).toBe(true);
    for (const bad of ['', '_private', '.hidden', '-dash', 'a b', 'a:b', 'a/b', 'é', 'x'.repeat(101), 42, undefined, null]) {
      expect(isQueueName(bad)).toBe(false);
    }
  });

  it('states the rule it checks, for messages', () => {
    expect(QUEUE_NAME_RULE).toMatch(/letters, digits, _ \. -/);
  });
});

describe('prefixes', () => {
  it('are queue-like names of at most 64', () => {
    expect(PREFIX_NAME.test('tq')).toBe(true);
    expect(PREFIX_NAME.test('x'.repeat(64))).toBe(true);
    expect(PREFIX_NAME.test('x'.repeat(65))).toBe(false);
    expect(PREFIX_NAME.test('_tq')).toBe(false);
  });
});

describe('priorities', () => {
  it('are integers from 0 to BullMQ’s limit', () => {
    expect(MAX_PRIORITY).toBe(2_097_151);
    for (const ok of [0, 1, 5, MAX_PRIORITY]) expect(isPriority(ok)).toBe(true);
    for (const bad of [-1, 1.5, MAX_PRIORITY + 1, Number.NaN, Infinity, '3', undefined]) expect(isPriority(bad)).toBe(false);
    expect(PRIORITY_RULE).toBe('an integer from 0 to 2097151, lower runs first');
  });
});

describe('time zones', () => {
  it('knows IANA zones and refuses anything else', () => {
    for (const ok of ['UTC', 'Europe/Paris', 'Asia/Seoul', 'America/Argentina/Buenos_Aires']) expect(isTimeZone(ok)).toBe(true);
    for (const bad of ['', 'Mars/Olympus', 'Nowhere/Land', 'GMT+25']) expect(isTimeZone(bad)).toBe(false);
  });
});
