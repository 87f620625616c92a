import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createClient, defineConfig, defineTask, RedisUnavailableError } from '../../src/index.js';
import { freePort } from '../../src/queue/index.js';
import { writeTestImage } from '../../src/tasks/index.js';
import { makeProject, ROOT, stopAfterTest, TqProcess } from '../helpers/cli.js';
import { appConfig, eventually } from '../helpers/project.js';
import { startRedis } from '../helpers/redis-server.js';

const config = defineConfig({ tasks: { hello: defineTask({ run: async (p: { name: string }) => `hello ${p.name}` }) } });

/** The call's error and how long it took to come. */
async function failure(call: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const started = Date.now();
  const err = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, ms: Date.now() - started };
}

describe('the client across Redis outages', () => {
  it('created before Redis is up, it connects once Redis is; calls while Redis is down fail fast with RedisUnavailableError and work again after', async () => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-client-reconnect-'));
    const tq = createClient(config, { redis: `redis://127.0.0.1:${port}`, prefix: `r${randomBytes(4).toString('hex')}`, dir });
    try {
      const before = await failure(() => tq.enqueue('hello', { name: 'early' }));
      expect(before.err).toBeInstanceOf(RedisUnavailableError);
      expect((before.err as Error).message).toMatch(
        new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${port} is not answering; the call was not made`),
      );
      expect((before.err as RedisUnavailableError).hint).toMatch(/reconnects by itself/);
      expect(before.ms).toBeLessThan(2000);

      const redis = await startRedis({ port });
      try {
        const first = await tq.enqueue('hello', { name: 'up' });
        expect(await first.state()).toBe('waiting');

        await redis.stop();
        const during = await failure(() => tq.enqueue('hello', { name: 'down' }));
        expect(during.err).toBeInstanceOf(RedisUnavailableError);
        expect((during.err as Error).message).toMatch(/is not answering; the call was not made/);
        expect(during.ms).toBeLessThan(2000);
        const state = await failure(() => tq.run(first.id).state());
        expect(state.err).toBeInstanceOf(RedisUnavailableError);

        await redis.restart();
        // The same client, not restarted: ioredis reconnects within a second of Redis being back.
        const again = await eventually(
          () =>
            tq
              .enqueue('hello', { name: 'back' })
              .catch((err: unknown) => (err instanceof RedisUnavailableError ? undefined : Promise.reject(err))),
          10_000,
          'an enqueue after Redis came back',
        );
        expect(again.id).toBeTruthy();
      } finally {
        await redis.stop();
      }
    } finally {
      await tq.close();
    }
  }, 60_000);

  it('an upload server keeps serving across a Redis restart: 202 before, 503 with the reason during, 202 after, no stack on stderr', async () => {
    const redis = await startRedis({ appendonly: true });
    try {
      const project = makeProject(appConfig(), { redisUrl: redis.url });
      const worker = stopAfterTest(project.spawn(['worker', '-Q', 'images', '-n', 'thumbs']));
      await worker.waitFor(/ready/);

      const script = project.file('server.mjs');
      fs.writeFileSync(
        script,
        fs
          .readFileSync(path.join(ROOT, 'test', 'fixtures', 'client-upload-server.mjs.txt'), 'utf8')
          .replace('__TQ__', pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href),
      );
      // Started from another directory: the config file's path decides where records and files go.
      const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-web-cwd-'));
      const child = spawn(process.execPath, [script, project.file('tasks.config.ts')], {
        cwd: elsewhere,
        env: { ...process.env, ...project.env, TQ_DEBUG: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const server = stopAfterTest(new TqProcess(child));
      await server.waitFor(/listening on \d+/);
      const port = Number(/listening on (\d+)/.exec(server.output)![1]);
      const image = path.join(project.dir, 'cat.png');
      await writeTestImage(image, { width: 1200, height: 900, format: 'png' });
      const bytes = fs.readFileSync(image);
      const upload = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/upload`, { method: 'POST', body: bytes });
        return { status: res.status, body: (await res.json()) as { recordId?: string; runId?: string; error?: string } };
      };
      const processed = (recordId: string) =>
        eventually(
          async () => {
            const res = await fetch(`http://127.0.0.1:${port}/images/${recordId}`);
            const record = (await res.json()) as { status: string; resizedFile: string | null };
            return record.status === 'processed' ? record : undefined;
          },
          20_000,
          `image ${recordId} processed`,
        );

      const before = await upload();
      expect(before.status).toBe(202);
      const first = await processed(before.body.recordId!);
      expect(first.resizedFile!.startsWith(path.join(project.dir, 'media') + path.sep)).toBe(true);
      expect(fs.existsSync(first.resizedFile!)).toBe(true);
      expect(fs.existsSync(path.join(elsewhere, 'media'))).toBe(false);
      expect(fs.existsSync(path.join(elsewhere, '.tq'))).toBe(false);

      await redis.stop();
      const started = Date.now();
      const during = await upload();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(during.status).toBe(503);
      expect(during.body.error).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is not answering; the call was not made/);

      await redis.restart();
      const after = await eventually(
        async () => {
          const res = await upload();
          return res.status === 202 ? res : undefined;
        },
        15_000,
        'an upload accepted after Redis came back',
      );
      await processed(after.body.recordId!);

      await server.stop();
      expect(stderr).not.toMatch(/ECONNREFUSED|Unhandled error event|\n\s+at /);
    } finally {
      await redis.stop();
    }
  }, 120_000);
});
