import { describe, expect, it } from 'vitest';
import { PREFIX_NAME } from '../../src/core/names.js';
import { hashTag, maskRedisUrl, parseRedisUrl, urlSecrets } from '../../src/core/url.js';
import { layoutOneKeyTarget, tqKeys } from '../../src/queue/keys.js';

describe('parseRedisUrl', () => {
  it('reads one server, with credentials, TLS and a database', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6380/2')).toEqual({ kind: 'single', host: '127.0.0.1', port: 6380, db: 2, tls: false });
    expect(parseRedisUrl('rediss://app:p%40ss@db.example.com')).toEqual({
      kind: 'single',
      host: 'db.example.com',
      port: 6379,
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(parseRedisUrl('redis://[::1]:7000')).toMatchObject({ host: '::1', port: 7000 });
  });

  it('reads a cluster: seed nodes, password, TLS', () => {
    expect(parseRedisUrl('rediss+cluster://:pw@h1:7000,h2:7001,h3')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7000 },
        { host: 'h2', port: 7001 },
        { host: 'h3', port: 6379 },
      ],
      password: 'pw',
      tls: true,
    });
    expect(() => parseRedisUrl('redis+cluster://h1:7000/3')).toThrow(/only database 0/);
  });

  it('reads a sentinel URL: sentinels (default port 26379), primary name, db, both passwords', () => {
    expect(parseRedisUrl('redis+sentinel://:pw@s1,s2:26380/mymaster/1?sentinelPassword=spw')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'mymaster',
      db: 1,
      password: 'pw',
      sentinelPassword: 'spw',
      tls: false,
    });
    expect(() => parseRedisUrl('redis+sentinel://s1,s2')).toThrow(/names the primary/);
  });

  it('refuses other schemes, several hosts without a topology, bad ports', () => {
    expect(() => parseRedisUrl('http://h:6379')).toThrow(/must look like redis:\/\/host:port/);
    expect(() => parseRedisUrl('redis://h1:1,h2:2')).toThrow(/several hosts need redis\+cluster:\/\/ or redis\+sentinel:\/\//);
    expect(() => parseRedisUrl('redis://h:99999')).toThrow(/out of range/);
  });
});

describe('maskRedisUrl and urlSecrets', () => {
  it('masks the passwords of cluster and sentinel URLs', () => {
    expect(maskRedisUrl('redis+cluster://app:s3cret@h1:1,h2:2')).toBe('redis+cluster://app:***@h1:1,h2:2');
    expect(maskRedisUrl('redis+sentinel://:s3cret@s1,s2/mymaster?sentinelPassword=t0p')).toBe(
      'redis+sentinel://:***@s1,s2/mymaster?sentinelPassword=***',
    );
    expect(maskRedisUrl('redis://u:pa/ss@h:1')).toBe('redis://u:***@h:1');
    expect(urlSecrets('redis+sentinel://:s3cret@s1/m?sentinelPassword=t0p')).toEqual(['s3cret', 't0p']);
  });
});

describe('prefixes and hash tags', () => {
  it('accepts one hash tag, refuses anything else with braces', () => {
    for (const ok of ['tq', '{tq}', 'app{tq}', '{tq}.prod', 'my-app_2.prod']) expect(PREFIX_NAME.test(ok), ok).toBe(true);
    for (const bad of ['{}', '{a}{b}', 'a{b', 'a}b', '{a:b}', 'a:b', '_tq', `{${'x'.repeat(63)}}`])
      expect(PREFIX_NAME.test(bad), bad).toBe(false);
    expect(hashTag('{tq}')).toBe('tq');
    expect(hashTag('app{tq}x')).toBe('tq');
    expect(hashTag('tq')).toBeUndefined();
  });
});

describe("tq's key layout", () => {
  /** BullMQ's key types, as `<prefix>:<queue>:<type>`; discovery tools glob on these. */
  const BULL_TYPES = [
    'wait',
    'paused',
    'meta',
    'id',
    'delayed',
    'active',
    'completed',
    'failed',
    'prioritized',
    'events',
    'stalled',
    'stalled-check',
    'limiter',
    'marker',
    'pc',
    'repeat',
    'de',
    'metrics',
  ];

  it('no tq key can be read as a BullMQ queue key, nor matched by <prefix>:*:<type>', () => {
    // Every key tqKeys has, now and later: names given to key functions are BullMQ's types themselves.
    const keys = Object.values(tqKeys('{tq}')).flatMap((k) => (typeof k === 'string' ? [k] : BULL_TYPES.map((name) => k(name))));
    expect(keys.length).toBeGreaterThan(60);
    for (const key of keys) {
      expect(key.startsWith('{tq}::tq:'), key).toBe(true);
      // The queue segment of `<prefix>:<queue>:...` is empty: BullMQ refuses an empty queue name.
      expect(key.split(':')[1], key).toBe('');
      for (const type of BULL_TYPES) expect(key.endsWith(`:${type}`), `${key} ends in :${type}`).toBe(false);
    }
  });

  it('maps every layout-1 key to its layout-2 name', () => {
    const k = tqKeys('tq');
    expect(layoutOneKeyTarget('tq', 'tq:_tq:events')).toBe(k.events);
    expect(layoutOneKeyTarget('tq', 'tq:_tq:marks')).toBe(k.runMarks);
    expect(layoutOneKeyTarget('tq', 'tq:_tq:beat:schedule:nightly')).toBe(k.beatSchedule('nightly'));
    expect(layoutOneKeyTarget('tq', 'tq:_tq:worker-name:w1')).toBe(k.workerName('w1'));
    expect(layoutOneKeyTarget('tq', 'tq:_tq:worker:w1')).toBe(k.worker('w1'));
    expect(layoutOneKeyTarget('tq', 'tq:_tq:cancel:abc')).toBe(k.cancel('abc'));
    expect(layoutOneKeyTarget('tq', 'tq:_tq:rate:resize')).toBe(k.rate('resize'));
    expect(layoutOneKeyTarget('tq', 'tq:_tq:layout')).toBeUndefined();
    expect(layoutOneKeyTarget('tq', 'tq:images:wait')).toBeUndefined();
  });
});
