import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/load.js';
import { defineTask } from '../../src/core/task.js';
import { Admin } from '../../src/queue/admin.js';
import { tqKeys } from '../../src/queue/keys.js';
import { Producer } from '../../src/queue/producer.js';
import { RunEventReader } from '../../src/queue/run-stream.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

// Failures that must surface as failures, not as "empty" or "locked" or nothing at all. Each
// test takes a permission away from the connections tq already opened (ACL changes apply to
// live connections), on a redis-server of this file's own: the shared one is never touched.

const config = configFromObject({ tasks: { hello: defineTask({ run: async () => 'hi' }) } }, os.tmpdir());
let server: TestRedis;
/** A connection as a user the tests never restrict, to set the ACLs. */
let root: Redis;
let prefix: string;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  server = await startRedis();
  const setup = new Redis(server.url);
  await setup.call('ACL', 'SETUSER', 'root', 'on', '>root-pw', '~*', '&*', '+@all');
  await setup.quit();
  root = new Redis(server.url, { username: 'root', password: 'root-pw' });
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await root.call('ACL', 'SETUSER', 'default', 'reset', 'on', 'nopass', '~*', '&*', '+@all');
});
afterAll(async () => {
  await root.quit();
  await server.stop();
});
const newPrefix = () => (prefix = `c${randomBytes(4).toString('hex')}`);

async function producer(warnings: string[] = []): Promise<Producer> {
  const p = await Producer.connect(config, { redisUrl: server.url, prefix, onWarning: (m) => warnings.push(m) });
  closers.push(() => p.close());
  return p;
}
async function admin(warnings: string[] = []): Promise<Admin> {
  const a = await Admin.connect(config, { redisUrl: server.url, prefix, onWarning: (m) => warnings.push(m) });
  closers.push(() => a.close());
  return a;
}

describe('run-event stream info()', () => {
  it('reads a stream nobody wrote as empty, and a refused XINFO as an error', async () => {
    newPrefix();
    const redis = new Redis(server.url);
    closers.push(() => redis.quit());
    const reader = new RunEventReader(redis, prefix);
    expect(await reader.info()).toMatchObject({ length: 0, firstId: undefined, lastId: undefined });

    await root.xadd(tqKeys(prefix).events, '*', 'b', '[]');
    expect((await reader.info()).length).toBe(1);

    await root.call('ACL', 'SETUSER', 'default', '-xinfo');
    await expect(reader.info()).rejects.toThrow(/NOPERM/);
  });
});

describe('removing runs (purge, cancel)', () => {
  it('a removal that fails for another reason than a lock makes purge and cancel fail, not report fewer runs', async () => {
    newPrefix();
    const p = await producer();
    const runs = await Promise.all([1, 2, 3].map(() => p.enqueue('hello', {})));
    const a = await admin();
    // removeJob's script deletes the run's keys: without DEL it fails inside Redis.
    await root.call('ACL', 'SETUSER', 'default', '-del');
    const refused = /can't run this command/;

    await expect(a.cancel(runs[0]!.id)).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(refused) });
    await expect(a.purge('waiting', 'default')).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/^purge stopped after removing 0 from default: could not remove run .*can't run this command/),
    });
    // Not taken for an active run: no cancel request was left for a worker.
    expect(await root.exists(tqKeys(prefix).cancel(runs[0]!.id))).toBe(0);
  });

  it('a run locked by a worker is still not an error: cancel takes the active path', async () => {
    newPrefix();
    const p = await producer();
    const run = await p.enqueue('hello', {});
    const a = await admin();
    // What a worker holding the run looks like to removeJob: its lock key.
    await root.set(`${prefix}:default:${run.id}:lock`, 'a-worker-token');
    expect(await a.cancel(run.id)).toMatchObject({ outcome: 'requested', state: 'active' });
    expect(await a.purge('waiting', 'default')).toEqual([{ queue: 'default', removed: 0 }]);
  });
});

describe('history writes of producers and admins', () => {
  /** Lets the connection use every key but the run-event stream. */
  const denyStream = () => root.call('ACL', 'SETUSER', 'default', 'resetkeys', `~${prefix}:[^:]*`, `~${prefix}::tq:[^r]*`);

  it('a producer whose enqueued events cannot be written says so, and close() counts them', async () => {
    newPrefix();
    const warnings: string[] = [];
    const p = await producer(warnings);
    await denyStream();
    await p.enqueue('hello', {});
    await p.enqueue('hello', {});
    const report = await p.close();
    expect(report).toEqual({ unwrittenEvents: 2 });
    expect(warnings[0]).toMatch(/^history: could not write \d+ run event\(s\) to the stream, retrying: NOPERM/);
    expect(warnings.at(-1)).toBe('history: 2 run event(s) could not be written to the stream and are not in history');
    expect(await root.xlen(tqKeys(prefix).events)).toBe(0);
  });

  it('an admin whose cancelled events cannot be written says so on close()', async () => {
    newPrefix();
    const p = await producer();
    await p.enqueue('hello', {});
    await p.close();
    const warnings: string[] = [];
    const a = await admin(warnings);
    await denyStream();
    expect(await a.purge('waiting', 'default')).toEqual([{ queue: 'default', removed: 1 }]);
    expect(await a.close()).toEqual({ unwrittenEvents: 1 });
    expect(warnings).toContain('history: 1 run event(s) could not be written to the stream and are not in history');
  });

  it('nothing to report when every event was written', async () => {
    newPrefix();
    const warnings: string[] = [];
    const p = await producer(warnings);
    await p.enqueue('hello', {});
    expect(await p.close()).toEqual({ unwrittenEvents: 0 });
    expect(warnings).toEqual([]);
    expect(await root.xlen(tqKeys(prefix).events)).toBe(1);
  });
});
