import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { runTq } from '../helpers/cli.js';
import { startPrivateRedis } from '../../src/queue/index.js';

describe('tq demo', () => {
  it('turns the sample images into thumbnails, prints the table and exits 0, under its own prefix', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-demo-'));
    const redisUrl = inject('redisUrl');
    const res = await runTq(['demo'], {
      cwd: dir,
      env: { TQ_REDIS_URL: redisUrl, TQ_PREFIX: 'demotest', NO_COLOR: '1' },
      timeoutMs: 90_000,
    });
    expect(res.code).toBe(0);
    const rows = res.stdout.split('\n').filter((l) => /completed/.test(l));
    expect(rows).toHaveLength(12);
    expect(res.stdout).toMatch(/12\/12 thumbnails in/);
    expect(res.stdout).toMatch(/rotated-exif6-1200x1600\.jpg\s+│ jpeg\s+│ 1200x1600 │ 450x600/);
    const resized = fs.readdirSync(path.join(dir, '.tq', 'demo', 'media', 'resized'));
    expect(resized).toHaveLength(12);
    // Its own prefix: nothing under the application's prefix.
    const redis = new Redis(redisUrl);
    try {
      expect(await redis.keys('demotest:*')).toEqual([]);
      expect((await redis.keys('demotest-demo:*')).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe('private redis-server for dev and demo', () => {
  it('starts on a free port with appendonly, keeps data across restarts, and stops', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-private-'));
    const first = await startPrivateRedis(dir);
    const a = new Redis(first.url);
    await a.set('kept', 'yes');
    a.disconnect();
    await first.stop();
    const second = await startPrivateRedis(dir);
    const b = new Redis(second.url);
    try {
      expect(await b.get('kept')).toBe('yes');
      expect(await b.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    } finally {
      b.disconnect();
      await second.stop();
    }
  });
});
