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
      // Where the client's handlers find their files.
      mediaDir: defineTask({ run: async (_p: Record<string, never>, ctx) => ctx.media }),
    },
  });
}

/** An image record by the name its original was stored under (`<sanitized name>-<suffix>.<ext>`). */
function recordByName(records: Store['records'], stem: string): { id: string; status: string; error: string | null } | undefined {
  const rows = records.query<{ id: string; status: string; error: string | null }>(
    'SELECT id, status, error FROM images WHERE original_path LIKE ?',
    `original/${stem}-%`,
  );
  expect(rows.length).toBeLessThanOrEqual(1);
  return rows[0];
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
    store = openStore(path.join(dir, '.tq', `${prefix}.db`), { prefix });
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
    // Removed from Redis; the history says how it ended.
    expect(await run.state()).toBe('cancelled');
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

  it('enqueueFiles takes paths and bytes together: each file is stored with its record and resized', async () => {
    const onDisk = path.join(dir, 'on disk.jpg');
    await writeTestImage(onDisk, { width: 1200, height: 1200, format: 'jpeg' });
    const bytes = fs.readFileSync(onDisk);
    const runs = await tq.enqueueFiles('resize', [onDisk, { data: new Uint8Array(bytes), filename: 'C:\\Users\\me\\shot.jpg' }]);
    expect(runs.map((r) => r.file)).toEqual([onDisk, 'C:\\Users\\me\\shot.jpg']);
    for (const { recordId, meta, run } of runs) {
      expect(recordId).toMatch(/^img_/);
      expect(meta).toEqual({ recordId });
      const result = await run.wait({ timeout: '20s' });
      expect([result.resizedWidth, result.resizedHeight, result.imageId]).toEqual([600, 600, recordId]);
      expect(fs.existsSync(path.join(dir, 'media', result.resized))).toBe(true);
      expect(store.records.images.get(recordId!)?.status).toBe('processed');
    }
    // Bytes are stored under the name they were uploaded with, without the client's directories.
    expect(store.records.images.get(runs[1]!.recordId!)?.original_path).toMatch(/^original\/shot-[0-9a-f]{8}\.jpg$/);
  });

  it('enqueueFiles refuses a task without fromArgs, no files, and an id for several files', async () => {
    await expect(tq.enqueueFiles('hello', ['x.jpg'])).rejects.toThrow(/does not take files/);
    await expect(tq.enqueueFiles('resize', [])).rejects.toThrow(/one or more files/);
    await expect(tq.enqueueFiles('resize', ['a.jpg', 'b.jpg'], { id: 'one' })).rejects.toThrow(/names one run/);
  });

  it('a file whose run cannot be enqueued leaves no pending record: it is failed with the reason', async () => {
    const file = path.join(dir, 'orphan.png');
    await writeTestImage(file, { width: 64, height: 64, format: 'png' });
    const err = await tq.enqueueFiles('resize', [file], { queue: 'no such queue!' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    const record = recordByName(store.records, 'orphan');
    expect(record?.status).toBe('failed');
    expect(record?.error).toBe(`not enqueued: ${(err as Error).message}`);

    const upload = await tq
      .uploadImage({ data: fs.readFileSync(file), filename: 'orphan-upload.png' }, { priority: -1 })
      .catch((e: unknown) => e);
    expect(upload).toBeInstanceOf(UsageError);
    expect(recordByName(store.records, 'orphan-upload')).toMatchObject({
      status: 'failed',
      error: `not enqueued: ${(upload as Error).message}`,
    });
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

describe('createClient inline mode: files', () => {
  const png = () =>
    sharp({ create: { width: 1000, height: 500, channels: 3, background: '#3a7' } })
      .png()
      .toBuffer();

  it("uploadImage takes bytes and keeps its files in a temporary directory, not the project's media/, until close()", async () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-inline-project-'));
    const cwd = process.cwd();
    process.chdir(project);
    try {
      const tq = createClient(appConfig(), { inline: true });
      const { recordId, run } = await tq.uploadImage({ data: await png(), filename: 'inline.png' });
      expect(recordId).toMatch(/^img_/);
      const result = (await run.wait()) as { resized: string; resizedWidth: number };
      expect(result.resizedWidth).toBe(800);
      const media = (await (await tq.enqueue('mediaDir', {})).wait()) as string;
      expect(path.relative(os.tmpdir(), media)).toMatch(/^tq-inline-media-/);
      expect(fs.existsSync(path.join(media, result.resized))).toBe(true);
      expect(fs.existsSync(path.join(project, 'media'))).toBe(false);
      await tq.close();
      expect(fs.existsSync(media)).toBe(false);
    } finally {
      process.chdir(cwd);
    }
  });

  it('with dir, files go to the config media under it and stay after close()', async () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-inline-dir-'));
    const tq = createClient(appConfig(), { inline: true, dir: project });
    const [stored] = await tq.enqueueFiles('resize', [{ data: await png(), filename: 'kept.png' }]);
    const result = (await stored!.run.wait()) as { resized: string };
    await tq.close();
    expect(fs.existsSync(path.join(project, 'media', result.resized))).toBe(true);
  });

  it('a file whose run cannot be enqueued inline leaves its record failed with the reason', async () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-inline-orphan-'));
    const db = path.join(project, 'records.db');
    const tq = createClient(appConfig(), { inline: true, dir: project, db });
    try {
      const err = await tq.uploadImage({ data: await png(), filename: 'late.png' }, { timeLimit: 'soon' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      const store = openStore(db);
      try {
        expect(recordByName(store.records, 'late')).toMatchObject({ status: 'failed', error: `not enqueued: ${(err as Error).message}` });
      } finally {
        store.close();
      }
    } finally {
      await tq.close();
    }
  });
});
