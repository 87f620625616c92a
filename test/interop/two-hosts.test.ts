import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClient, defineConfig, startWorker, type WorkerHandle } from '../../src/index.js';
import { RunEventReader } from '../../src/queue/run-stream.js';
import { Recorder } from '../../src/store/recorder.js';
import { openStore } from '../../src/store/store.js';
import { cleanupImages, resizeImage, writeTestImage } from '../../src/tasks/index.js';
import { eventually, query } from '../helpers/project.js';

/**
 * Two hosts on one Redis and one shared media directory, each with its own SQLite file: the web
 * host (A) uploads and enqueues, the worker host (B) resizes and cleans up. Both files end with
 * the same image records, and cleanup removes them from both.
 */
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-two-hosts-'));
const media = path.join(root, 'shared-media');
const config = defineConfig({
  media,
  db: 'data/app.db',
  tasks: { resize: resizeImage({ queue: 'images' }), cleanup: cleanupImages() },
});
const hostA = path.join(root, 'host-a');
const hostB = path.join(root, 'host-b');
const fileA = path.join(hostA, 'data', 'app.db');
const fileB = path.join(hostB, 'data', 'app.db');
const IMAGE_COLUMNS =
  'id, original_path, resized_path, width, height, resized_width, resized_height, bytes, resized_bytes, status, error, uploaded_at, processed_at';

describe('image records on every host', () => {
  const options = { redis: inject('redisUrl'), prefix: `hosts${randomBytes(4).toString('hex')}` };
  let worker: WorkerHandle;
  let redis: Redis;
  const web = createClient(config, { ...options, dir: hostA });

  beforeAll(async () => {
    fs.mkdirSync(hostA, { recursive: true });
    fs.mkdirSync(hostB, { recursive: true });
    redis = new Redis(options.redis);
    worker = await startWorker(config, { ...options, dir: hostB, queues: ['default', 'images'], logger: quiet });
  });
  afterAll(async () => {
    await web.close();
    await worker.close('5s');
    redis.disconnect();
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** Host A's recorder catching its file up (what any tq command on A does). */
  async function catchUpA(): Promise<void> {
    const store = openStore(fileA);
    try {
      await new Recorder(store.db, new RunEventReader(redis, options.prefix), { stream: options.prefix }).catchUp();
    } finally {
      store.close();
    }
  }
  /** Waits until host B's file has applied what Redis has (its worker's recorder runs in the background). */
  async function settledB(): Promise<void> {
    const store = openStore(fileB);
    try {
      await new Recorder(store.db, new RunEventReader(redis, options.prefix), { stream: options.prefix }).catchUp();
    } finally {
      store.close();
    }
  }

  it('the uploading host sees processed once the worker host made the thumbnail; cleanup empties both', async () => {
    const upload = path.join(root, 'cat.jpg');
    await writeTestImage(upload, { width: 1200, height: 900, format: 'jpeg' });
    const { recordId, run } = await web.uploadImage({ data: fs.readFileSync(upload), filename: 'cat.jpg' });
    await run.wait({ timeout: '20s' });
    // The worker's own events trail BullMQ's by a few ms: both files agree once each applied them.
    const a = await eventually(async () => {
      await catchUpA();
      await settledB();
      const rowsA = query(fileA, `SELECT ${IMAGE_COLUMNS} FROM images`);
      return JSON.stringify(rowsA) === JSON.stringify(query(fileB, `SELECT ${IMAGE_COLUMNS} FROM images`)) ? rowsA : undefined;
    }, 5000);
    expect(query(fileA, 'SELECT job_id, state, attempt, worker, started_at, finished_at FROM task_runs')).toEqual(
      query(fileB, 'SELECT job_id, state, attempt, worker, started_at, finished_at FROM task_runs'),
    );
    expect(a).toMatchObject([{ id: recordId, status: 'processed', width: 1200, height: 900, resized_width: 800, resized_height: 600 }]);
    const resized = path.join(media, (a[0] as { resized_path: string }).resized_path);
    expect(fs.existsSync(resized)).toBe(true);

    // Cleanup runs on the worker host: files go once from the shared media, records from both files.
    const cleanup = await web.enqueue('cleanup', { olderThan: 1 });
    expect(await cleanup.wait({ timeout: '20s' })).toMatchObject({ deleted: 1, filesRemoved: 2 });
    await catchUpA();
    await settledB();
    expect(query(fileA, 'SELECT id FROM images')).toEqual([]);
    expect(query(fileB, 'SELECT id FROM images')).toEqual([]);
    expect(fs.existsSync(resized)).toBe(false);
  });
});
