import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  DEFAULT_PAYLOAD_LIMIT,
  DEFAULT_RESULT_LIMIT,
  assertJsonPayload,
  assertJsonResult,
  parseJsonArg,
  redact,
} from '../../src/core/json.js';
import { maskRedisUrl, scrubSecret } from '../../src/core/url.js';

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return err as UsageError;
  }
  throw new Error('expected a UsageError, nothing was thrown');
}

function nested(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i += 1) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

describe('assertJsonPayload', () => {
  it('accepts plain JSON values', () => {
    expect(() => assertJsonPayload({ a: 1, b: [true, null, 'x'], c: { d: -2.5 } })).not.toThrow();
    expect(() => assertJsonPayload([1, 2, 3])).not.toThrow();
    expect(() => assertJsonPayload('image.jpg')).not.toThrow();
    expect(() => assertJsonPayload(null)).not.toThrow();
    expect(() => assertJsonPayload(undefined)).not.toThrow();
    expect(() => assertJsonPayload(0)).not.toThrow();
    expect(() => assertJsonPayload(Object.assign(Object.create(null), { x: 1 }))).not.toThrow();
  });

  it('accepts the same object referenced twice (a shared reference is not a cycle)', () => {
    const shared = { n: 1 };
    expect(() => assertJsonPayload({ a: shared, b: shared, list: [shared, shared] })).not.toThrow();
  });

  it('rejects functions, naming where they are', () => {
    const err = usageError(() => assertJsonPayload({ a: { cb: () => 1 } }));
    expect(err.message).toBe('payload.a.cb is a function, which is not JSON-serialisable');
  });

  it('rejects bigints and symbols', () => {
    expect(usageError(() => assertJsonPayload({ n: 10n })).message).toBe('payload.n is a bigint, which is not JSON-serialisable');
    expect(usageError(() => assertJsonPayload([Symbol('s')])).message).toBe('payload[0] is a symbol, which is not JSON-serialisable');
  });

  it('rejects cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(usageError(() => assertJsonPayload(a)).message).toMatch(/^payload\.self contains a cycle/);
    const list: unknown[] = [];
    list.push({ back: list });
    expect(usageError(() => assertJsonPayload(list)).message).toMatch(/^payload\[0\]\.back contains a cycle/);
  });

  it('rejects NaN and Infinity', () => {
    expect(usageError(() => assertJsonPayload({ x: Number.NaN })).message).toBe('payload.x is NaN, which JSON cannot carry');
    expect(usageError(() => assertJsonPayload([Number.POSITIVE_INFINITY])).message).toBe('payload[0] is Infinity, which JSON cannot carry');
    expect(usageError(() => assertJsonPayload(Number.NEGATIVE_INFINITY, 'result')).message).toBe(
      'result is -Infinity, which JSON cannot carry',
    );
  });

  it('rejects class instances, naming the class', () => {
    class Upload {
      constructor(readonly path: string) {}
    }
    expect(usageError(() => assertJsonPayload({ file: new Upload('a.jpg') })).message).toMatch(/^payload\.file is a Upload instance/);
    expect(usageError(() => assertJsonPayload(new Map([['a', 1]]))).message).toMatch(/^payload is a Map instance/);
  });

  it('rejects nesting deeper than 64 levels, and accepts 64', () => {
    expect(() => assertJsonPayload(nested(64))).not.toThrow();
    const err = usageError(() => assertJsonPayload(nested(65)));
    expect(err.message).toMatch(/is nested more than 64 levels deep$/);
    expect(usageError(() => assertJsonPayload(nested(10_000))).message).toMatch(/more than 64 levels/);
  });

  it('rejects a payload over the limit, naming the size and the limit', () => {
    const text = 'x'.repeat(100);
    expect(() => assertJsonPayload(text, 'payload', 102)).not.toThrow();
    const err = usageError(() => assertJsonPayload(text, 'payload', 101));
    expect(err.message).toBe('payload is 102 bytes, over the 101-byte limit');
    expect(err.hint).toMatch(/payloadLimit/);
  });

  it('counts bytes, not characters, against the limit', () => {
    const err = usageError(() => assertJsonPayload('é'.repeat(10), 'payload', 20));
    expect(err.message).toBe('payload is 22 bytes, over the 20-byte limit');
  });

  it('defaults to a 1 MiB limit', () => {
    expect(DEFAULT_PAYLOAD_LIMIT).toBe(1024 * 1024);
    const big = 'y'.repeat(1024 * 1024);
    expect(usageError(() => assertJsonPayload(big)).message).toBe(`payload is ${1024 * 1024 + 2} bytes, over the 1048576-byte limit`);
    expect(() => assertJsonPayload('y'.repeat(1024 * 1024 - 2))).not.toThrow();
  });

  it('finds an oversized payload whose text is far longer than its characters (escapes, keys, numbers)', () => {
    // A control character is 6 bytes of JSON (\u0001): 200 of them are 1,202 bytes.
    expect(usageError(() => assertJsonPayload('\u0001'.repeat(200), 'payload', 1201)).message).toBe(
      'payload is 1202 bytes, over the 1201-byte limit',
    );
    expect(() => assertJsonPayload('\u0001'.repeat(200), 'payload', 1202)).not.toThrow();
    const wide = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k\u0002${i}`, -1.2345678901234567e-300]));
    const size = Buffer.byteLength(JSON.stringify(wide));
    expect(usageError(() => assertJsonPayload(wide, 'payload', size - 1)).message).toBe(
      `payload is ${size} bytes, over the ${size - 1}-byte limit`,
    );
    expect(() => assertJsonPayload(wide, 'payload', size)).not.toThrow();
  });
});

describe('assertJsonResult', () => {
  it('refuses a result over the limit with a reason that names resultLimit and the fix (a final UsageError)', () => {
    expect(() => assertJsonResult({ text: 'x'.repeat(80) }, 100)).not.toThrow();
    const err = usageError(() => assertJsonResult({ text: 'x'.repeat(100) }, 100));
    expect(err.message).toBe(
      'result is 111 bytes, over the 100-byte resultLimit: return a reference (a record id, a path) instead of the data, or raise resultLimit in the config',
    );
  });

  it('checks results are JSON like payloads, and defaults to the payload limit', () => {
    expect(usageError(() => assertJsonResult({ f: () => 1 })).message).toBe('result.f is a function, which is not JSON-serialisable');
    expect(DEFAULT_RESULT_LIMIT).toBe(DEFAULT_PAYLOAD_LIMIT);
    expect(() => assertJsonResult('x'.repeat(DEFAULT_RESULT_LIMIT))).toThrow(/resultLimit/);
  });
});

describe('parseJsonArg', () => {
  it('parses JSON text', () => {
    expect(parseJsonArg('{"a":[1,"b"]}')).toEqual({ a: [1, 'b'] });
    expect(parseJsonArg('"s"')).toBe('s');
  });
  it('names --payload when the text is not JSON', () => {
    const err = usageError(() => parseJsonArg('{bad'));
    expect(err.message).toMatch(/^--payload is not valid JSON: /);
  });
  it('names the given flag', () => {
    expect(usageError(() => parseJsonArg('', '--result')).message).toMatch(/^--result is not valid JSON/);
  });
});

describe('redact', () => {
  it('masks the keys at any depth, in objects and arrays, case-insensitively', () => {
    const payload = {
      user: 'ann',
      Password: 'p1',
      nested: { token: 't1', deeper: { TOKEN: 't2', keep: 1 } },
      list: [{ password: 'p2', ok: true }, 'password', ['token']],
    };
    expect(redact(payload, ['password', 'Token'])).toEqual({
      user: 'ann',
      Password: '[redacted]',
      nested: { token: '[redacted]', deeper: { TOKEN: '[redacted]', keep: 1 } },
      list: [{ password: '[redacted]', ok: true }, 'password', ['token']],
    });
  });

  it('masks a whole sub-object under a redacted key', () => {
    expect(redact({ secret: { a: 1, b: [2] } }, ['secret'])).toEqual({ secret: '[redacted]' });
  });

  it('does not modify its input', () => {
    const payload = { password: 'p', inner: { password: 'q' } };
    redact(payload, ['password']);
    expect(payload).toEqual({ password: 'p', inner: { password: 'q' } });
  });

  it('returns scalars and payloads without those keys unchanged', () => {
    expect(redact('password', ['password'])).toBe('password');
    expect(redact(null, ['password'])).toBeNull();
    expect(redact({ a: 1 }, ['password'])).toEqual({ a: 1 });
    const same = { password: 'x' };
    expect(redact(same, [])).toBe(same);
  });
});

describe('maskRedisUrl', () => {
  const secret = 's3cr3t-Pw';
  it.each([
    [`redis://user:${secret}@db.example.com:6379`, 'redis://user:***@db.example.com:6379'],
    [`redis://:${secret}@db.example.com:6379/2`, 'redis://:***@db.example.com:6379/2'],
    [`rediss://default:${secret}@db.example.com:6380`, 'rediss://default:***@db.example.com:6380'],
  ])('masks the password of %s', (url, masked) => {
    expect(maskRedisUrl(url)).toBe(masked);
    expect(maskRedisUrl(url)).not.toContain(secret);
  });

  it('masks a URL-encoded password (in both its encoded and decoded forms)', () => {
    const out = maskRedisUrl('redis://app:p%40ss%3Aw0rd%2F@127.0.0.1:6380');
    expect(out).toBe('redis://app:***@127.0.0.1:6380');
    expect(out).not.toMatch(/p%40ss|p@ss|w0rd/);
  });

  it('masks a password that contains an unencoded @', () => {
    const out = maskRedisUrl('redis://:p@ss@host:6379');
    expect(out).not.toContain('p@ss');
    expect(out).toContain('***');
  });

  it('masks the password of a URL WHATWG cannot parse', () => {
    const out = maskRedisUrl(`redis://admin:${secret}@bad host:6379`);
    expect(out).not.toContain(secret);
    expect(out).toBe('redis://admin:***@bad host:6379');
  });

  it('leaves a URL without a password as it was', () => {
    expect(maskRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(maskRedisUrl('rediss://cache.internal:6380/1')).toBe('rediss://cache.internal:6380/1');
  });

  // BUG (src/core/url.ts:8): a password with an unencoded '/' makes `new URL` throw, and the
  // fallback regex `//([^@/]*)@` cannot match across the '/', so the URL comes back unmasked.
  it('masks an unparseable URL whose password contains a slash', () => {
    expect(maskRedisUrl('redis://:pa/ss@host:6379')).not.toContain('pa/ss');
  });
});

describe('scrubSecret', () => {
  it('replaces every occurrence of the secret', () => {
    expect(scrubSecret('auth hunter2 failed (hunter2)', 'hunter2')).toBe('auth *** failed (***)');
  });
  it('leaves the text alone without a secret', () => {
    expect(scrubSecret('nothing to hide', undefined)).toBe('nothing to hide');
    expect(scrubSecret('nothing to hide', '')).toBe('nothing to hide');
  });
  it('treats the secret literally (regex characters are not special)', () => {
    expect(scrubSecret('pw is a.b*c+ and axbxc', 'a.b*c+')).toBe('pw is *** and axbxc');
  });
});

describe('redact keeps every own key and survives deep payloads', () => {
  it('keeps an own __proto__ key (as JSON.parse makes it) and masks inside it', () => {
    const payload = JSON.parse('{"__proto__": {"password": "x", "a": 1}, "b": [{"token": "t"}]}');
    const out = redact(payload, ['password', 'token']) as Record<string, unknown>;
    expect(JSON.stringify(out)).toBe('{"__proto__":{"password":"[redacted]","a":1},"b":[{"token":"[redacted]"}]}');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
  it('walks 200,000 levels without overflowing the stack', () => {
    const deep = JSON.parse('['.repeat(200_000) + '{"password":"x"}' + ']'.repeat(200_000));
    let node = redact(deep, ['password']);
    for (let i = 0; i < 200_000; i++) node = (node as unknown[])[0];
    expect(node).toEqual({ password: '[redacted]' });
  });
});
