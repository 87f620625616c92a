import fs from 'node:fs';
import os from 'node:os';
import { Redis } from 'ioredis';
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { makeProject, stopAfterTest, type TqProcess } from '../helpers/cli.js';
import { eventually } from '../helpers/project.js';
import { startRedis } from '../helpers/redis-server.js';
import { workerConnections } from '../../src/cli/doctor-checks.js';

// libfaketime shifts one process's clock (CI installs the Debian package `faketime`).
const FAKETIME_LIB = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
].find((f) => fs.existsSync(f));
const skewed = (offset: string) => {
  if (!FAKETIME_LIB) throw new Error('libfaketime is missing: install the Debian package `faketime` (CI does)');
  return { LD_PRELOAD: FAKETIME_LIB, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
};

/** Three queues and no image task (a worker without sharp starts faster). */
const config = (extra = '') => `import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  ${extra}
  tasks: {
    hello: defineTask({ args: ['name'], run: async ({ name }: { name: string }) => \`hello \${name}\` }),
    thumb: defineTask({ queue: 'images', run: async () => 'ok' }),
    slow: defineTask({ queue: 'slow', run: async () => 'ok' }),
  },
});
`;

interface DoctorJson {
  ok: boolean;
  redis: { url: string; kind: string; prefix: string };
  checks: { name: string; ok: boolean; detail: string; fix?: string }[];
}

describe('tq doctor', () => {
  it('a healthy deployment: every check ok, exit 0; a worker holds 5 + 2 per queue connections (CLIENT LIST)', async () => {
    // A Redis of this test's own: CLIENT LIST then shows only this worker's connections.
    const redis = await startRedis({ appendonly: true });
    const probe = new Redis(redis.url);
    let worker: TqProcess | undefined;
    try {
      const project = makeProject(config(), { redisUrl: redis.url });
      worker = stopAfterTest(project.spawn(['worker', '-Q', 'default,images,slow', '-n', 'healthy']));
      await worker.waitFor(/tq worker healthy ready/);
      const names = async () =>
        ((await probe.client('LIST')) as string)
          .trim()
          .split('\n')
          .map((l) => /(?:^| )name=(\S*)/.exec(l)?.[1] ?? '')
          .filter((n) => n !== '');
      // The lock keeper's thread connects a moment after `ready`.
      await eventually(async () => (await names()).includes('tq-lock-keeper'));
      expect((await names()).sort()).toEqual(
        [
          'tq-control',
          'tq-lock-keeper',
          'tq-memory-watch',
          'tq-recorder',
          'tq-worker-events',
          ...['default', 'images', 'slow'].flatMap((q) => [
            `tq-worker:${q}`,
            `${project.prefix}:${Buffer.from(q).toString('base64')}:w:healthy`,
          ]),
        ].sort(),
      );
      expect((await names()).length).toBe(workerConnections(3));
      expect(workerConnections(3)).toBe(11);

      const res = await project.run(['doctor', '--json']);
      const doc = JSON.parse(res.stdout) as DoctorJson;
      expect(doc.checks.filter((c) => !c.ok)).toEqual([]);
      expect(res.code).toBe(0);
      expect(doc.ok).toBe(true);
      expect(doc.redis).toEqual({ url: redis.url, kind: 'single', prefix: project.prefix });
      expect(doc.checks.map((c) => c.name)).toEqual([
        'redis',
        'maxmemory-policy',
        'persistence',
        'hash-tag',
        'clocks',
        'worker-names',
        'connections',
        'history',
        'consumers',
      ]);
      expect(doc.checks.find((c) => c.name === 'connections')!.detail).toMatch(
        /live workers need 11 \(healthy 11: 5 \+ 2 per queue each\)/,
      );

      const text = await project.run(['doctor']);
      expect(text.code).toBe(0);
      expect(text.stdout.trim().split('\n').at(-1)).toBe('tq doctor: all checks passed');
      expect(text.stdout).toMatch(/^ok {4}redis {13}Redis \d+\.\d+\.\d+, standalone 127\.0\.0\.1:\d+$/m);
    } finally {
      // The worker first: one whose Redis is gone waits for it before it exits.
      await worker?.stop();
      probe.disconnect();
      await redis.stop();
    }
  });

  it('a broken deployment: each problem on one line with its fix, exit 1', async () => {
    const redis = await startRedis({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    const probe = new Redis(redis.url);
    let plain: Worker | undefined;
    let worker: TqProcess | undefined;
    try {
      const project = makeProject(config(), { redisUrl: redis.url });
      // A worker 5 s ahead (allowed: under worker.maxClockOffset) from a host whose config lets
      // it run on an evicting Redis, and a plain BullMQ worker that took its name on its queue.
      const host2 = makeProject(config('redis: { allowEviction: true },'), {
        redisUrl: redis.url,
        prefix: project.prefix,
      });
      worker = stopAfterTest(host2.spawn(['worker', '-Q', 'default', '-n', 'twin'], { env: skewed('+5s') }));
      await worker.waitFor(/tq worker twin ready/);
      plain = new Worker('default', async () => undefined, { connection: { url: redis.url }, prefix: project.prefix, name: 'twin' });
      await plain.waitUntilReady();
      await eventually(async () => /:w:twin/.test((await probe.client('LIST')) as string));
      // Waiting runs on a queue nobody consumes.
      expect((await project.run(['enqueue', 'hello', 'nobody', '-q', 'images'])).code).toBe(0);

      const res = await project.run(['doctor']);
      expect(res.code, res.stderr).toBe(1);
      const fails = res.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
      expect(fails.map((l) => l.split(/\s+/)[1])).toEqual(['maxmemory-policy', 'persistence', 'clocks', 'worker-names', 'consumers']);
      for (const line of fails) expect(line).toMatch(/ — fix: \S/);
      expect(res.stdout).toMatch(
        /FAIL {2}maxmemory-policy {2}127\.0\.0\.1:\d+: maxmemory-policy is allkeys-lru: Redis may evict queued runs — fix: CONFIG SET maxmemory-policy noeviction/,
      );
      expect(res.stdout).toMatch(/FAIL {2}persistence .*persistence is off/);
      expect(res.stdout).toMatch(new RegExp(`FAIL  clocks .*worker twin \\(${os.hostname()}\\) 5\\.\\ds ahead .* — fix: run NTP`));
      expect(res.stdout).toMatch(/FAIL {2}worker-names {6}2 processes consume queue default as worker "twin"/);
      expect(res.stdout).toMatch(/FAIL {2}consumers .*images \(1\) — fix: start a worker for them: tq worker -Q images/);
      expect(res.stdout.trim().split('\n').at(-1)).toBe('tq doctor: 5 problem(s)');

      const json = JSON.parse((await project.run(['doctor', '--json'])).stdout) as DoctorJson;
      expect(json.ok).toBe(false);
      expect(json.checks.filter((c) => !c.ok).every((c) => typeof c.fix === 'string')).toBe(true);
    } finally {
      await worker?.stop();
      await plain?.close();
      probe.disconnect();
      await redis.stop();
    }
  });

  it('Redis unreachable: one failed check that says so, exit 1', async () => {
    const project = makeProject(config(), { redisUrl: 'redis://127.0.0.1:1' });
    const res = await project.run(['doctor', '--json']);
    expect(res.code).toBe(1);
    const doc = JSON.parse(res.stdout) as DoctorJson;
    expect(doc.checks).toEqual([
      {
        name: 'redis',
        ok: false,
        detail: expect.stringMatching(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/),
        fix: expect.any(String),
      },
    ]);
  });
});
