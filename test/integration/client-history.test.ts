import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClient, defineConfig, defineTask, RunFailedError, RuntimeError, startWorker, UsageError } from '../../src/index.js';
import type { WorkerHandle } from '../../src/index.js';
import { resizeImage, writeTestImage } from '../../src/tasks/index.js';
import { eventually } from '../helpers/project.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const config = defineConfig({
  media: 'media',
  db: 'data/app.db',
  tasks: {
    // Redis keeps none of their finished runs: only the history remembers them.
    greet: defineTask({ keep: 0, run: async (p: { name: string }) => `hello ${p.name}` }),
    broken: defineTask({
      keep: 0,
      run: async () => {
        throw new Error('broken on purpose');
      },
    }),
    resize: resizeImage({ queue: 'images' }),
  },
});

describe('the client reads results from history, image records and media', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-client-history-'));
  const options = { redis: inject('redisUrl'), prefix: `h${randomBytes(4).toString('hex')}`, dir };
  let worker: WorkerHandle;
  const tq = createClient(config, options);

  beforeAll(async () => {
    worker = await startWorker(config, { ...options, queues: ['default', 'images'], logger: quiet });
  });
  afterAll(async () => {
    await tq.close();
    await worker.close('5s');
  });

  it('state(), wait() and info() of a run Redis no longer has come from history', async () => {
    const run = await tq.enqueue('greet', { name: 'past' });
    expect(await run.wait({ timeout: '10s' })).toBe('hello past');
    // A client that never saw the run, as a web process started later would be.
    const later = createClient(config, options);
    try {
      const handle = later.run(run.id);
      expect(await eventually(async () => ((await handle.state()) === 'completed' ? true : undefined), 5000)).toBe(true);
      expect(await handle.wait()).toBe('hello past');
      const info = await handle.info();
      expect(info).toMatchObject({ id: run.id, task: 'greet', queue: 'default', state: 'completed', result: 'hello past', attempt: 1 });
      expect(info!.finishedAt).toMatch(/^\d{4}-/);

      const failed = await later.enqueue('broken', {});
      await expect(failed.wait({ timeout: '10s' })).rejects.toThrow('broken on purpose');
      const err = await createClient(config, options)
        .run(failed.id)
        .wait()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunFailedError);
      expect((err as RunFailedError).state).toBe('failed');
      expect((err as Error).message).toMatch(/broken on purpose/);
    } finally {
      await later.close();
    }
  });

  it("a run neither Redis nor history knows is 'unknown', with no info; wait() says so", async () => {
    const handle = tq.run('never-enqueued');
    expect(await handle.state()).toBe('unknown');
    expect(await handle.info()).toBeUndefined();
    const err = await handle.wait().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('E_NO_RUN');
    expect((err as Error).message).toContain(path.join(dir, 'data', 'app.db'));
  });

  it("history.get and history.search read the durable history with inspect history's filters", async () => {
    const a = await tq.enqueue('greet', { name: 'searchable-needle' });
    const b = await tq.enqueue('broken', {});
    await a.wait({ timeout: '10s' });
    await b.wait({ timeout: '10s' }).catch(() => undefined);
    const got = await eventually(async () => {
      const row = await tq.history.get(a.id);
      return row?.state === 'completed' ? row : undefined;
    }, 5000);
    expect(got).toMatchObject({ id: a.id, task: 'greet', result: 'hello searchable-needle' });
    expect((await tq.history.search({ text: 'SEARCHABLE-needle' })).map((r) => r.id)).toEqual([a.id]);
    const failed = await tq.history.search({ state: 'failed', task: 'broken', since: '1h' });
    expect(failed.map((r) => r.id)).toContain(b.id);
    expect(failed.every((r) => r.state === 'failed' && r.task === 'broken')).toBe(true);
    expect(await tq.history.search({ queue: 'images', task: 'greet' })).toEqual([]);
    expect(await tq.history.search({ limit: 1 })).toHaveLength(1);
    await expect(tq.history.search({ state: 'done' as never })).rejects.toBeInstanceOf(UsageError);
    await expect(tq.history.search({ limit: 0 })).rejects.toBeInstanceOf(UsageError);
  });

  it('images.get and images.list read the records; their files are absolute paths in media (relative to the config, not the cwd)', async () => {
    const file = path.join(dir, 'dog.png');
    await writeTestImage(file, { width: 1000, height: 800, format: 'png' });
    const { recordId, run } = await tq.uploadImage({ data: fs.readFileSync(file), filename: 'dog.png' });
    expect(['pending', 'processing', 'processed']).toContain((await tq.images.get(recordId))!.status);
    await run.wait({ timeout: '20s' });
    const image = await eventually(async () => {
      const record = await tq.images.get(recordId);
      return record?.status === 'processed' ? record : undefined;
    }, 5000);
    const media = path.join(dir, 'media');
    expect(await tq.media.dir()).toBe(media);
    expect(image.originalFile).toBe(path.join(media, image.original_path));
    expect(image.resizedFile).toBe(path.join(media, image.resized_path!));
    expect(fs.existsSync(image.resizedFile!)).toBe(true);
    expect(await tq.media.path(image.resized_path!)).toBe(image.resizedFile);
    await expect(tq.media.path('../data/app.db')).rejects.toBeInstanceOf(UsageError);
    expect((await tq.images.list({ status: 'processed' })).map((i) => i.id)).toContain(recordId);
    expect(await tq.images.list({ status: 'failed' })).toEqual([]);
    expect(await tq.images.get('img_missing')).toBeUndefined();
    // The records database is the config's db, under the config's directory.
    expect(fs.existsSync(path.join(dir, 'data', 'app.db'))).toBe(true);
  });
});

describe('createClient with the config file path', () => {
  it('resolves the config paths against the file, whatever the working directory', async () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-client-path-'));
    fs.writeFileSync(
      path.join(project, 'tasks.config.ts'),
      "import { defineConfig, defineTask } from 'tq';\nexport default defineConfig({ db: 'state/records.db', media: 'files', tasks: { t: defineTask({ run: async () => 1 }) } });\n",
    );
    const tq = createClient(path.join(project, 'tasks.config.ts'));
    try {
      expect(await tq.media.dir()).toBe(path.join(project, 'files'));
      expect(await tq.history.search({})).toEqual([]);
      expect(await tq.images.list()).toEqual([]);
    } finally {
      await tq.close();
    }
    // Reading created nothing where the process runs.
    expect(fs.existsSync(path.join(process.cwd(), 'state'))).toBe(false);
    expect(fs.existsSync(path.join(project, 'state', 'records.db'))).toBe(true);
  });
});
