import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestImage } from '../../src/tasks/index.js';
import type { TqProcess } from '../helpers/cli.js';
import { appProject, bullQueue, query } from '../helpers/project.js';

describe('tq enqueue resize -> tq worker (end to end, as a user runs it)', () => {
  const project = appProject();
  let worker: TqProcess;

  beforeAll(async () => {
    worker = project.spawn(['worker', '-Q', 'images,default', '-c', '2']);
    await worker.waitFor(/ready/);
  });
  afterAll(async () => {
    expect(await worker.stop()).toBe(0);
  });

  it('makes a thumbnail within 800x600 with the aspect kept, and records it as completed', async () => {
    await writeTestImage(project.file('photo one.jpg'), { width: 3000, height: 2000, format: 'jpeg' });
    const res = await project.run(['enqueue', 'resize', 'photo one.jpg', '--wait', '--json']);
    // The run id goes to stderr before the wait (stdout stays one JSON document).
    expect(res.stderr).toMatch(/^enqueued resize run \S+ on queue images \(waiting, record img_\w+\)\n$/);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc).toMatchObject({ task: 'resize', queue: 'images', state: 'completed' });
    expect(doc.recordId).toMatch(/^img_/);
    expect(doc.result).toMatchObject({ width: 3000, height: 2000, resizedWidth: 800, resizedHeight: 533, format: 'jpeg' });

    const thumb = path.join(project.dir, 'media', doc.result.resized);
    expect(path.basename(thumb)).toMatch(/^photo-one-[0-9a-f]+_resized\.jpg$/);
    const meta = await sharp(thumb).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBeLessThanOrEqual(800);
    expect(meta.height).toBeLessThanOrEqual(600);
    expect(Math.abs(meta.width! / meta.height! - 3000 / 2000)).toBeLessThan(0.01);

    const [image] = query(project.dbFile, 'SELECT * FROM images WHERE id = ?', doc.recordId);
    expect(image).toMatchObject({ status: 'processed', width: 3000, height: 2000, resized_width: 800, resized_height: 533, error: null });
    expect(image!.processed_at).toBeTruthy();
    expect(image!.resized_bytes).toBe(fs.statSync(thumb).size);

    const [run] = query(project.dbFile, 'SELECT * FROM task_runs WHERE job_id = ?', doc.id);
    expect(run).toMatchObject({ task: 'resize', queue: 'images', state: 'completed', attempt: 1 });
    expect(JSON.parse(String(run!.result))).toEqual(doc.result);
    expect(JSON.parse(String(run!.payload))).toEqual({ imageId: doc.recordId, original: doc.result.original });
    expect(run!.runtime_ms).toBeGreaterThanOrEqual(0);
    expect(run!.enqueued_at && run!.started_at && run!.finished_at).toBeTruthy();
  });

  it('a stored file whose run cannot be enqueued is failed with the reason; one still waiting after --wait times out is not', async () => {
    await writeTestImage(project.file('orphan.png'), { width: 64, height: 64, format: 'png' });
    const refused = await project.run(['enqueue', 'resize', 'orphan.png', '--queue', 'no such queue!']);
    expect(refused.code).toBe(2);
    const [orphan] = query<{ status: string; error: string }>(
      project.dbFile,
      "SELECT * FROM images WHERE original_path LIKE 'original/orphan-%'",
    );
    expect(orphan).toMatchObject({ status: 'failed' });
    expect(orphan!.error).toMatch(/^not enqueued: queue "no such queue!"/);

    await writeTestImage(project.file('parked.png'), { width: 64, height: 64, format: 'png' });
    const waited = await project.run(['enqueue', 'resize', 'parked.png', '--queue', 'nobody', '--wait', '--timeout', '300ms']);
    expect(waited.code).toBe(1);
    expect(waited.stderr).toMatch(/still waiting/);
    const [parked] = query<{ status: string; error: string | null }>(
      project.dbFile,
      "SELECT * FROM images WHERE original_path LIKE 'original/parked-%'",
    );
    expect(parked).toMatchObject({ status: 'pending', error: null });
  });

  it('turns an EXIF-rotated photo upright', async () => {
    // Stored landscape 800x600 with orientation 6: shown as a 600x800 portrait.
    await writeTestImage(project.file('rotated.jpg'), { width: 800, height: 600, format: 'jpeg', orientation: 6 });
    const res = await project.run(['enqueue', 'resize', 'rotated.jpg', '--wait', '--json']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc.result).toMatchObject({ width: 600, height: 800, resizedWidth: 450, resizedHeight: 600 });
    const meta = await sharp(path.join(project.dir, 'media', doc.result.resized)).metadata();
    expect([meta.width, meta.height]).toEqual([450, 600]);
    expect(meta.orientation ?? 1).toBe(1);
  });

  it('fails a corrupt image once, without retries, with the reason in the record and the history', async () => {
    fs.writeFileSync(project.file('broken.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7)]));
    const res = await project.run(['enqueue', 'resize', 'broken.jpg', '--wait', '--json']);
    expect(res.code).toBe(1);
    const doc = JSON.parse(res.stdout);
    expect(doc.state).toBe('failed');
    expect(doc.error).toMatch(/corrupt|unsupported|truncated/i);
    const [run] = query<{ state: string; attempt: number; error: string; errors: string }>(
      project.dbFile,
      'SELECT * FROM task_runs WHERE job_id = ?',
      doc.id,
    );
    // The task allows 3 attempts; a corrupt file is not worth a second one.
    expect(run).toMatchObject({ state: 'failed', attempt: 1 });
    expect(run!.error).toBe(doc.error);
    expect(JSON.parse(run!.errors)).toHaveLength(1);
    const [image] = query<{ status: string; error: string }>(project.dbFile, 'SELECT * FROM images WHERE id = ?', doc.recordId);
    expect(image).toMatchObject({ status: 'failed' });
    expect(image!.error).toBe(doc.error);
    const job = await bullQueue(project, 'images').getJob(doc.id);
    expect(job?.attemptsMade).toBe(1);
    expect(await job?.getState()).toBe('failed');
  });

  it('runs a plain task with positional args and prints its result', async () => {
    const res = await project.run(['enqueue', 'hello', 'world', '--wait']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toBe('hello world');
    expect(res.stderr).toMatch(/enqueued hello run \S+ on queue default/);
  });

  it('--wait exits 1 with the error when the task fails after its attempts', async () => {
    const res = await project.run(['enqueue', 'boom', '--wait']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^tq: run \S+ failed: boom: the task failed on purpose$/m);
    const id = /run (\S+) failed/.exec(res.stderr)![1]!;
    const [run] = query<{ state: string; attempt: number; errors: string }>(project.dbFile, 'SELECT * FROM task_runs WHERE job_id = ?', id);
    expect(run).toMatchObject({ state: 'failed', attempt: 2 });
    expect(JSON.parse(run!.errors).map((e: { attempt: number }) => e.attempt)).toEqual([1, 2]);
  });

  it('--id makes a second enqueue a no-op that says so', async () => {
    const first = await project.run(['enqueue', 'hello', 'once', '--id', 'greeting-1', '--wait', '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ id: 'greeting-1', state: 'completed', result: 'hello once' });
    const second = await project.run(['enqueue', 'hello', 'twice', '--id', 'greeting-1', '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ id: 'greeting-1', existed: true });
    const human = await project.run(['enqueue', 'hello', 'thrice', '--id', 'greeting-1']);
    expect(human.stderr).toMatch(/already exists/);
    const rows = query<{ payload: string; result: string }>(project.dbFile, "SELECT * FROM task_runs WHERE job_id = 'greeting-1'");
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.payload)).toEqual({ name: 'once' });
  });
});

describe('bulk enqueue', () => {
  it('enqueues 500 files in one command as 500 runs with 500 records', async () => {
    const project = appProject();
    const dir = project.file('photos');
    fs.mkdirSync(dir);
    await writeTestImage(path.join(dir, 'seed.png'), { width: 32, height: 24, format: 'png' });
    const files: string[] = [];
    for (let i = 0; i < 500; i++) {
      const name = `p${String(i).padStart(3, '0')}.png`;
      fs.copyFileSync(path.join(dir, 'seed.png'), path.join(dir, name));
      files.push(path.join('photos', name));
    }
    fs.rmSync(path.join(dir, 'seed.png'));
    const res = await project.run(['enqueue', 'resize', ...files, '--json'], { timeoutMs: 60_000 });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { runs: { id: string; state: string; recordId: string }[] };
    expect(doc.runs).toHaveLength(500);
    expect(new Set(doc.runs.map((r) => r.id)).size).toBe(500);
    const queue = bullQueue(project, 'images');
    try {
      expect(await queue.getWaitingCount()).toBe(500);
    } finally {
      await queue.close();
    }
    expect(query<{ n: number }>(project.dbFile, "SELECT count(*) AS n FROM images WHERE status = 'pending'")[0]!.n).toBe(500);
    expect(query<{ n: number }>(project.dbFile, "SELECT count(*) AS n FROM task_runs WHERE state = 'waiting'")[0]!.n).toBe(500);
    expect(fs.readdirSync(path.join(project.dir, 'media', 'original'))).toHaveLength(500);
  });
});
