import { describe, expect, it } from 'vitest';
import { QueryError } from '../../src/core/errors.js';
import { EMPTY_QUERY, allOf, formatQuery, isEmptyQuery, parseQuery } from '../../src/core/query.js';

const NOW = new Date('2026-12-02T12:00:00.000Z');

function refused(text: string): QueryError {
  try {
    parseQuery(text, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(QueryError);
    return err as QueryError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

describe('parseQuery', () => {
  it('reads every key of the documented example', () => {
    const q = parseQuery(
      'state:failed task:resize queue:images worker:host1 id:abc error:"premature end" since:1h until:2026-12-01 payload.user:42',
      new Date('2026-12-01T12:00:00.000Z'),
    );
    expect(q).toEqual({
      states: ['failed'],
      tasks: ['resize'],
      queues: ['images'],
      workers: ['host1'],
      ids: ['abc'],
      errors: ['premature end'],
      since: '2026-12-01T11:00:00.000Z',
      until: '2026-12-02T00:00:00.000Z',
      payload: [{ path: ['user'], values: ['42'] }],
      text: [],
    });
  });

  it('an empty query (or only spaces) filters nothing', () => {
    expect(parseQuery('', NOW)).toEqual(EMPTY_QUERY);
    expect(isEmptyQuery(parseQuery('   \t ', NOW))).toBe(true);
    expect(isEmptyQuery(parseQuery('state:failed', NOW))).toBe(false);
    expect(isEmptyQuery(parseQuery('since:1h', NOW))).toBe(false);
  });

  it('several values of one key are alternatives, repeated or comma-separated, in state order and without duplicates', () => {
    expect(parseQuery('state:failed state:cancelled', NOW).states).toEqual(['failed', 'cancelled']);
    expect(parseQuery('state:cancelled,failed', NOW).states).toEqual(['failed', 'cancelled']);
    expect(parseQuery('state:failed,FAILED State:failed', NOW).states).toEqual(['failed']);
    expect(parseQuery('task:a,b task:c', NOW).tasks).toEqual(['a', 'b', 'c']);
    expect(parseQuery('payload.user:1 payload.user:2,3 payload.team:x', NOW).payload).toEqual([
      { path: ['user'], values: ['1', '2', '3'] },
      { path: ['team'], values: ['x'] },
    ]);
  });

  it('free text: words and quoted phrases, with escapes; a quoted value keeps its commas', () => {
    const q = parseQuery('corrupt "premature end of" jpeg error:"a, b" "say \\"hi\\""', NOW);
    expect(q.text).toEqual(['corrupt', 'premature end of', 'jpeg', 'say "hi"']);
    expect(q.errors).toEqual(['a, b']);
  });

  it('text with a colon that is not a key stays free text', () => {
    expect(parseQuery('12:30 http://example.com/x.jpg', NOW).text).toEqual(['12:30', 'http://example.com/x.jpg']);
    expect(parseQuery('"state:failed"', NOW)).toMatchObject({ states: [], text: ['state:failed'] });
  });

  it('nested payload paths', () => {
    expect(parseQuery('payload.user.id:7', NOW).payload).toEqual([{ path: ['user', 'id'], values: ['7'] }]);
  });

  it.each([
    ['since:30m', { since: '2026-12-02T11:30:00.000Z' }],
    ['since:7d', { since: '2026-11-25T12:00:00.000Z' }],
    ['since:2026-11-30', { since: '2026-11-30T00:00:00.000Z' }],
    ['until:2026-11-30', { until: '2026-12-01T00:00:00.000Z' }],
    ['since:2026-11-30T10:15:00Z', { since: '2026-11-30T10:15:00.000Z' }],
    ['since:2026-11-30T10:15', { since: '2026-11-30T10:15:00.000Z' }],
    ['since:2026-11-30T10:15:00+02:00', { since: '2026-11-30T08:15:00.000Z' }],
    ['since:2026-11-30 until:2026-11-30', { since: '2026-11-30T00:00:00.000Z', until: '2026-12-01T00:00:00.000Z' }],
  ])('times: %s', (text, expected) => {
    expect(parseQuery(text, NOW)).toMatchObject(expected);
  });

  it('formatQuery reads back to the same query', () => {
    const texts = [
      'state:failed,cancelled task:resize queue:images worker:host1 id:abc error:"premature end" since:1h until:2026-12-03 payload.user:42',
      'corrupt "two words" "with:colon" "a \\"quote\\"" task:"odd name" payload.a.b:"x,y"',
    ];
    for (const text of texts) {
      const q = parseQuery(text, NOW);
      expect(parseQuery(formatQuery(q), NOW)).toEqual(q);
    }
  });
});

describe('parseQuery refuses bad input with one error naming the token and what is allowed', () => {
  it('a misspelled key, with "did you mean"', () => {
    const err = refused('task:resize stat:failed');
    expect(err.code).toBe('E_QUERY');
    expect(err.exitCode).toBe(2);
    expect(err.token).toBe('stat:failed');
    expect(err.message).toBe('stat:failed: unknown key "stat"; did you mean "state:"?');
    expect(err.hint).toContain('keys: state, task, queue, worker, id, error, since, until, payload.<key>');
  });

  it('an unknown key with nothing close lists the keys and how to search for the text', () => {
    const err = refused('colour:red');
    expect(err.message).toBe('colour:red: unknown key "colour"');
    expect(err.hint).toContain('quote it: "colour:red"');
  });

  it('a key close to payload suggests a payload path', () => {
    expect(refused('paylod:1').message).toContain('did you mean "payload.<key>:"?');
  });

  it('a misspelled state, with "did you mean" and the states', () => {
    const err = refused('state:faild');
    expect(err.token).toBe('state:faild');
    expect(err.message).toBe('state:faild: "faild" is not a state; did you mean "failed"?');
    expect(err.hint).toBe('states: waiting, delayed, active, retrying, completed, failed, cancelled, expired, lost');
    expect(refused('state:failed,bogus').message).toBe('state:failed,bogus: "bogus" is not a state');
  });

  it.each([
    ['state:', 'state: needs a value'],
    ['task:a,,b', 'an empty value between commas'],
    ['error:""', 'the value is empty'],
    ['error:"premature end', 'the quote is not closed'],
    ['"unclosed phrase', 'the quote is not closed'],
    ['since:yesterday', '"yesterday" is not a time'],
    ['since:5', '"5" is not a time'],
    ['until:2026-02-30', '"2026-02-30" is not a time'],
    ['since:1h since:2h', 'since is given twice'],
    ['since:2026-12-01 until:2026-11-01', 'is not after since:2026-12-01'],
    ['payload.:1', 'is not a payload path'],
    ['payload.a..b:1', 'is not a payload path'],
  ])('%s', (text, message) => {
    const err = refused(text);
    expect(err.message).toContain(message);
    expect(err.hint).toBeTruthy();
  });

  it('the hint for a bad time says what a time may be', () => {
    expect(refused('since:soon').hint).toBe('since: takes a duration back from now (30m, 1h, 7d), a date (2026-12-01) or an ISO time');
  });
});

describe('allOf', () => {
  it('keeps values common to both, the later since and the earlier until, every text term', () => {
    const a = parseQuery('state:failed,cancelled since:2026-11-01 foo', NOW);
    const b = parseQuery('state:failed task:x since:2026-11-05 until:2026-11-20 bar', NOW);
    expect(allOf(a, b)).toMatchObject({
      states: ['failed'],
      tasks: ['x'],
      since: '2026-11-05T00:00:00.000Z',
      until: '2026-11-21T00:00:00.000Z',
      text: ['foo', 'bar'],
    });
  });

  it('refuses keys whose values have nothing in common', () => {
    expect(() => allOf(parseQuery('state:failed', NOW), parseQuery('state:completed', NOW))).toThrow(QueryError);
  });
});
