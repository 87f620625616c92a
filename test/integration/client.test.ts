import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClient, defineConfig, defineTask, FatalTaskError, RunFailedError, UsageError } from '../../src/index.js';
import { configFromObject } from '../../src/config/index.js';
import { WorkerRuntime } from '../../src/queue/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { resizeImage, writeTestImage } from '../../src/tasks/index.js';

const quiet = { info: () => undefined, warn: () => undefined };

function appConfig() {
  return defineConfig({
    media: 'media',
    tasks: {
      hello: defineTask({ run: async (p: { name: string }) => `hello ${p.name}` }),
      boom: defineTask({
        attempts: 2,
        run: async () => {
          throw new Error('boom');
        },
      }),
      fatal: defineTask({
        attempts: 3,
        run: async () => {
          throw new FatalTaskError('fatal');
        },
      }),
      parent: defineTask({
        run: async (p: { name: string }, ctx) => (await ctx.enqueue('hello', { name: p.name })).id,
      }),
      parked: defineTask({ queue: 'nobody', run: async () => 'never' }),
      // Handlers take ctx apart, or pass a copy on: its methods must survive both.
      picky: defineTask({
        run: async (_p: Record<string, never>, ctx) => {
          const { log, progress } = ctx;
          await log('from a destructured log');
          await progress(50);
          const copy = { ...ctx, extra: true };
          await copy.log('from a spread copy');
          return { aborted: copy.signal.aborted, id: copy.id, attempt: copy.attempt, hasDb: typeof copy.db.images.get === 'function' };
        },
      }),
      sync: defineTask({
        run: () => {
          throw new FatalTaskError('thrown before any await');
        },
      }),
      resize: resizeImage({ queue: 'images' }),
    },
  });
}

describe('createClient (against a real Redis and an in-process worker)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-client-'));
  const prefix = `c${randomBytes(4).toString('hex')}`;
  const redis = inject('redisUrl');
  const config = appConfig();
  let store: Store;
  let worker: WorkerRuntime;
  const tq = createClient(config, { redis, prefix, dir });
  const bullQueue = (name: string) => new Queue(name, { connection: { url: redis }, prefix });

  beforeAll(async () => {
    store = openStore(path.join(dir, '.tq', 'tq.db'));
    worker = await WorkerRuntime.start({
      config: configFromObject(config, dir),
      redisUrl: redis,
      prefix,
      queues: ['default', 'images'],
      concurrency: 2,
      records: store.records,
      logger: quiet,
    });
  });
  afterAll(async () => {
    await tq.close();
    await worker.shutdown(1000);
    store.close();
  });

  it('wait() resolves with the result, state() says completed', async () => {
    const run = await tq.enqueue('hello', { name: 'web' });
    expect(run.id).toMatch(/^[a-z0-9]+$/);
    expect(await run.wait({ timeout: '10s' })).toBe('hello web');
    expect(await run.state()).toBe('completed');
    expect(await tq.run(run.id).wait()).toBe('hello web');
  });

  it("wait() rejects with the task's error after its attempts", async () => {
    const run = await tq.enqueue('boom', {} as never);
    const err = await run.wait({ timeout: '10s' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    expect((err as RunFailedError).message).toBe('boom');
    expect((err as RunFailedError).state).toBe('failed');
    expect(await run.state()).toBe('failed');
  });

  it('wait() with a timeout rejects while the run is still pending', async () => {
    const run = await tq.enqueue('parked', {} as never);
    const err = await run.wait({ timeout: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    expect((err as RunFailedError).message).toMatch(/still waiting/);
    await run.cancel();
    expect(await run.state()).toBe('unknown');
  });

  it('ctx can be destructured and spread; its log lines reach the run', async () => {
    const run = await tq.enqueue('picky', {});
    expect(await run.wait({ timeout: '10s' })).toEqual({ aborted: false, id: run.id, attempt: 1, hasDb: true });
    const queue = bullQueue('default');
    try {
      const { logs } = await queue.getJobLogs(run.id);
      expect(logs).toEqual(['from a destructured log', 'from a spread copy']);
    } finally {
      await queue.close();
    }
  });

  it('a handler that throws synchronously fails its run with that error', async () => {
    const err = await (await tq.enqueue('sync', {})).wait({ timeout: '10s' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    expect((err as RunFailedError).message).toBe('thrown before any await');
    expect((err as RunFailedError).state).toBe('failed');
  });

  it('ctx.enqueue from a handler enqueues follow-up work', async () => {
    const childId = (await (await tq.enqueue('parent', { name: 'kid' })).wait({ timeout: '10s' })) as string;
    expect(await tq.run(childId).wait({ timeout: '10s' })).toBe('hello kid');
  });

  it('uploadImage stores the file and its record and enqueues resize in one call', async () => {
    const file = path.join(dir, 'upload.png');
    await writeTestImage(file, { width: 1600, height: 900, format: 'png' });
    const { recordId, run } = await tq.uploadImage({ data: fs.readFileSync(file), filename: 'from the web.png' });
    expect(recordId).toMatch(/^img_/);
    const result = (await run.wait({ timeout: '20s' })) as { resized: string; resizedWidth: number };
    expect(result.resizedWidth).toBe(800);
    const meta = await sharp(path.join(dir, 'media', result.resized)).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([800, 450, 'png']);
    expect(store.records.images.get(recordId)?.status).toBe('processed');
  });
});

describe('createClient inline mode (no Redis)', () => {
  const tq = createClient(appConfig(), { inline: true, dir: fs.mkdtempSync(path.join(os.tmpdir(), 'tq-inline-')) });
  afterAll(() => tq.close());

  it('runs handlers at enqueue and returns their results', async () => {
    const run = await tq.enqueue('hello', { name: 'test' });
    expect(await run.state()).toBe('completed');
    expect(await run.wait()).toBe('hello test');
    const parent = await tq.enqueue('parent', { name: 'nested' });
    expect(await tq.run(String(await parent.wait())).wait()).toBe('hello nested');
  });

  it('honours attempts and FatalTaskError', async () => {
    const boom = await tq.enqueue('boom', {} as never);
    expect(await boom.state()).toBe('failed');
    await expect(boom.wait()).rejects.toThrow('boom');
    const fatal = await tq.enqueue('fatal', {} as never);
    await expect(fatal.wait()).rejects.toThrow('fatal');
  });

  it('refuses unknown tasks and non-JSON payloads like the real thing', async () => {
    await expect(tq.enqueue('nope' as never, {} as never)).rejects.toBeInstanceOf(UsageError);
    await expect(tq.enqueue('hello', { name: 'x', when: () => 1 } as never)).rejects.toThrow(/not JSON-serialisable/);
  });
});
