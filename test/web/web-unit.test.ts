import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import type { RunEvent, RunEventSource, StreamEntry, StreamInfo } from '../../src/core/run-events.js';
import { compareStreamIds } from '../../src/core/run-events.js';
import { accessPolicy, allows, authenticate, isLoopback, parseTokens } from '../../src/web/auth.js';
import { EventHub, type HubMessage } from '../../src/web/event-hub.js';
import { validationMessage } from '../../src/web/errors.js';
import { parseMetricsAddress } from '../../src/web/worker-metrics.js';

const SECRET = 'abcdefghijklmnop-secret';

describe('web tokens and roles', () => {
  it('parses name:role:secret and role:secret entries, and authenticates by the secret', () => {
    const tokens = parseTokens(`alice:admin:${SECRET}, viewer:${SECRET}-2\n# comment`, 'TQ_WEB_TOKENS');
    expect([...tokens.values()]).toEqual([
      { name: 'alice', role: 'admin' },
      { name: 'viewer', role: 'viewer' },
    ]);
    const policy = accessPolicy(tokens, { host: '0.0.0.0', readOnly: false, allowActions: false });
    expect(authenticate(policy, `Bearer ${SECRET}`)).toEqual({ ok: true, principal: { name: 'alice', role: 'admin' } });
    expect(authenticate(policy, `Bearer ${SECRET}-2`)).toEqual({ ok: true, principal: { name: 'viewer', role: 'viewer' } });
    expect(authenticate(policy, 'Bearer nope-nope-nope-nope').ok).toBe(false);
    expect(authenticate(policy, undefined).ok).toBe(false);
    // The secret is not kept as such.
    expect(JSON.stringify([...tokens])).not.toContain(SECRET);
  });

  it('refuses bad entries with one line that never contains the secret', () => {
    const bad = [
      `bob:root:${SECRET}`,
      'bob:admin:short',
      `a:admin:${SECRET},a:viewer:${SECRET}x`,
      `x:admin:${SECRET},y:admin:${SECRET}`,
      'justone',
    ];
    for (const text of bad) {
      let caught: unknown;
      try {
        parseTokens(text, 'TQ_WEB_TOKENS');
      } catch (err) {
        caught = err;
      }
      expect(caught, text).toBeInstanceOf(UsageError);
      expect((caught as Error).message).not.toContain(SECRET);
      expect((caught as Error).message).not.toContain('short');
    }
  });

  it('binds loopback only without tokens; roles include the ones below', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    expect(isLoopback('10.0.0.5')).toBe(false);
    expect(() => accessPolicy(new Map(), { host: '0.0.0.0', readOnly: false, allowActions: true })).toThrow(/without tokens/);
    expect(accessPolicy(new Map(), { host: '127.0.0.1', readOnly: false, allowActions: false }).anonymousRole).toBe('viewer');
    expect(accessPolicy(new Map(), { host: '127.0.0.1', readOnly: false, allowActions: true }).anonymousRole).toBe('admin');
    expect(allows('admin', 'operator')).toBe(true);
    expect(allows('operator', 'admin')).toBe(false);
    expect(allows('viewer', 'viewer')).toBe(true);
  });

  it('reads --metrics-port as a port or host:port', () => {
    expect(parseMetricsAddress('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseMetricsAddress('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseMetricsAddress('[::]:9464')).toEqual({ host: '::', port: 9464 });
    expect(parseMetricsAddress('nope')).toBeUndefined();
    expect(parseMetricsAddress('70000')).toBeUndefined();
  });
});

/** An in-memory stream: `append` adds an entry; a blocking read waits for one. */
class MemoryStream implements RunEventSource {
  entries: StreamEntry[] = [];
  private wake: (() => void) | undefined;
  private seq = 0;
  /** Called inside a non-blocking read, before it answers (to interleave appends with a backlog read). */
  duringRead: (() => void) | undefined;
  append(n = 1): void {
    for (let i = 0; i < n; i++) {
      this.seq += 1;
      const id = `${1000 + this.seq}-0`;
      const event: RunEvent = { type: 'enqueued', jobId: `run${this.seq}`, task: 't', queue: 'q', at: 0, attempt: 0 };
      this.entries.push({ id, events: [event] });
    }
    this.wake?.();
  }
  async read(afterId: string, count: number, blockMs: number): Promise<StreamEntry[]> {
    const after = () => this.entries.filter((e) => compareStreamIds(e.id, afterId) > 0).slice(0, count);
    if (blockMs === 0) {
      this.duringRead?.();
      return after();
    }
    if (after().length === 0) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, 20)));
    return after();
  }
  async info(): Promise<StreamInfo> {
    return {
      firstId: this.entries[0]?.id,
      lastId: this.entries.at(-1)?.id,
      length: this.entries.length,
      entriesAdded: undefined,
      maxDeletedId: undefined,
    };
  }
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('request validation messages', () => {
  it('names the allowed values of a field that takes one of several constants, once', () => {
    // What the schema validator reports for `?sort=bogus&limit=0` on GET /api/runs.
    const errors = [
      { instancePath: '/sort', keyword: 'const', params: { allowedValue: 'enqueued' }, message: 'must be equal to constant' },
      { instancePath: '/sort', keyword: 'const', params: { allowedValue: 'finished' }, message: 'must be equal to constant' },
      { instancePath: '/sort', keyword: 'const', params: { allowedValue: 'runtime' }, message: 'must be equal to constant' },
      { instancePath: '/sort', keyword: 'anyOf', params: {}, message: 'must match a schema in anyOf' },
      { instancePath: '/limit', keyword: 'minimum', params: { limit: 1 }, message: 'must be >= 1' },
    ];
    expect(validationMessage('querystring', errors)).toBe(
      'querystring/sort must be one of: enqueued, finished, runtime; querystring/limit must be >= 1',
    );
    expect(
      validationMessage('body', [{ instancePath: '', keyword: 'required', params: {}, message: "must have required property 'task'" }]),
    ).toBe("body must have required property 'task'");
  });
});

describe('event hub', () => {
  it('resumes after Last-Event-ID from its buffer and from the stream, with entries arriving meanwhile: none missed, none twice', async () => {
    const stream = new MemoryStream();
    stream.append(3);
    const hub = new EventHub({ reader: stream, backfill: stream, bufferSize: 5 });
    await hub.start();
    stream.append(20); // the buffer keeps the last 5 of these
    await until(() => hub.position === '1023-0');
    // The recorder's lag as the buffer tells it: events after a position.
    expect(hub.eventsAfter('1021-0')).toBe(2);
    expect(hub.eventsAfter('1023-0')).toBe(0);

    for (const from of ['1021-0', '1002-0']) {
      const got: HubMessage[] = [];
      // While the backlog is read, more entries arrive (the live path queues them).
      stream.duringRead = () => {
        stream.duringRead = undefined;
        stream.append(2);
      };
      const before = stream.entries.length;
      const off = await hub.subscribe((m) => got.push(m), from);
      if (from === '1021-0') stream.append(2); // the buffer path reads nothing from the stream
      const expected = stream.entries.filter((e) => compareStreamIds(e.id, from) > 0).map((e) => e.id);
      expect(stream.entries.length).toBe(before + 2);
      await until(() => got.length >= expected.length);
      await new Promise((r) => setTimeout(r, 30));
      expect(got.map((m) => m.id)).toEqual(expected);
      off();
    }
    await hub.close();
  });
});

describe('overdue schedule fires', () => {
  it('counts fire times over a minute late that no beat dealt with, and nothing for a running or new schedule', async () => {
    const { resolveSchedule } = await import('../../src/beat/index.js');
    const { overdueFires } = await import('../../src/web/context.js');
    const s = resolveSchedule('tick', { task: 'hello', every: '10s' }, 'UTC');
    const now = Date.UTC(2026, 11, 1, 12, 0, 0);
    const state = (cursor: number) => ({ cursor, spec: s.spec, lastFire: cursor });
    // The last beat dealt with fires up to 5 minutes ago: 4 minutes of fires (every 10 s) are over a minute late.
    expect(overdueFires(s, state(now - 300_000), now)).toBe(24);
    expect(overdueFires(s, state(now - 5_000), now)).toBe(0);
    expect(overdueFires(s, undefined, now)).toBe(0);
    expect(overdueFires(s, { ...state(now - 300_000), spec: 'other' }, now)).toBe(0);
    const off = resolveSchedule('off', { task: 'hello', every: '10s', enabled: false }, 'UTC');
    expect(overdueFires(off, { cursor: now - 300_000, spec: off.spec, lastFire: undefined }, now)).toBe(0);
  });
});
