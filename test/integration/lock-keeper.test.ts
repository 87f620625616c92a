import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockKeeper } from '../../src/queue/worker/lock-keeper.js';
import { tqKeys } from '../../src/queue/keys.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const busy = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // a handler that never yields
  }
};

describe('lock keeper: a blocked event loop does not lose run locks', () => {
  let server: TestRedis;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('keeps a tracked lock alive through a 5 s block with a 2 s lock, and says so at once', async () => {
    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tq-keeper-')), 'log');
    const fd = fs.openSync(log, 'a');
    const keeper = LockKeeper.start({
      redisUrl: server.url,
      prefix: 'lk1',
      lockDurationMs: 2000,
      maxBlockedMs: 60_000,
      logFd: fd,
      worker: 'w1',
    });
    try {
      await redis.set('lk1:q:j1:lock', 'tok', 'PX', 2000);
      await redis.sadd('lk1:q:stalled', 'j1');
      // A lock of nobody's: must expire as usual.
      await redis.set('lk1:q:j2:lock', 'other', 'PX', 2000);
      keeper.track({ id: 'j1', queue: 'q', token: 'tok', label: 'slow[j1]' });
      const started = Date.now();
      busy(5000);
      expect(keeper.blockedSince(started)).toBeGreaterThanOrEqual(4500);
      expect(await redis.get('lk1:q:j1:lock')).toBe('tok');
      expect(await redis.pttl('lk1:q:j1:lock')).toBeGreaterThan(0);
      expect(await redis.sismember('lk1:q:stalled', 'j1')).toBe(0);
      expect(await redis.get('lk1:q:j2:lock')).toBeNull();
      const text = fs.readFileSync(log, 'utf8');
      expect(text).toMatch(/tq worker w1: the event loop has been blocked for \d+\.\ds while running slow\[j1\]/);
      expect(text).toMatch(/make it async, or set isolate: true/);
      // Said once per blocked stretch, not once per check.
      expect(text.match(/has been blocked/g)).toHaveLength(1);
    } finally {
      await keeper.close();
      fs.closeSync(fd);
    }
  });

  it('reports no block for a run that yields', async () => {
    const keeper = LockKeeper.start({ redisUrl: server.url, prefix: 'lk2', lockDurationMs: 1000, maxBlockedMs: 60_000, worker: 'w2' });
    try {
      const started = Date.now();
      await new Promise((r) => setTimeout(r, 600));
      expect(keeper.blockedSince(started)).toBe(0);
    } finally {
      await keeper.close();
    }
  });

  it('past maxBlocked, records why on each run and ends the process', async () => {
    const entry = fileURLToPath(new URL('../../dist/queue/worker/lock-keeper.js', import.meta.url));
    const script = `
      import { LockKeeper } from ${JSON.stringify(entry)};
      const keeper = LockKeeper.start({ redisUrl: ${JSON.stringify(server.url)}, prefix: 'lk3', lockDurationMs: 1000, maxBlockedMs: 1500, worker: 'w3' });
      keeper.track({ id: 'a', queue: 'q', token: 't', label: 'stuck[a]' });
      keeper.track({ id: 'b', queue: 'q', token: 't', label: 'late[b]', deadline: Date.now() + 200 });
      const end = Date.now() + 20000; while (Date.now() < end) {}
      console.log('survived');
    `;
    await redis.set('lk3:q:a:lock', 't', 'PX', 60_000);
    await redis.set('lk3:q:b:lock', 't', 'PX', 60_000);
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const started = Date.now();
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    expect(signal, stderr).toBe('SIGKILL');
    expect(code).toBeNull();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stdout).not.toContain('survived');
    expect(stderr).toMatch(/tq worker w3: the event loop has been blocked for .* past the time limit of late\[b\]; ending this process/);
    const marks = await redis.hgetall(tqKeys('lk3').runMarks);
    expect(marks['q:b']).toMatch(/^1\|1\|TimeLimitExceeded: run exceeded its time limit while blocking the event loop/);
    expect(marks['q:a']).toMatch(/^1\|0\|blocked/);
  });
});
