import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryRecords } from '../helpers/records.js';
import type { TaskContext } from '../../src/core/task.js';
import { FatalTaskError } from '../../src/core/errors.js';
import { cleanupImages, resizeImage, writeTestImage } from '../../src/tasks/index.js';

let root: string;
let media: string;
let db: ReturnType<typeof memoryRecords>;
let logs: string[];

function ctx(): TaskContext {
  return {
    id: 'run-c',
    name: 'cleanup',
    queue: 'default',
    attempt: 1,
    signal: new AbortController().signal,
    progress: async () => undefined,
    log: async (line) => {
      logs.push(line);
    },
    db,
    media,
    enqueue: async () => ({ id: 'x' }),
    logger: { info: (m) => logs.push(m), warn: (m) => logs.push(`warn: ${m}`) },
  };
}

const DAY = 24 * 3600 * 1000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString();

/** An uploaded (and processed) image `age` days old; returns its files. */
async function addImage(id: string, age: number, withThumb = true): Promise<string[]> {
  const original = `original/${id}.jpg`;
  await writeTestImage(path.join(media, original), { width: 40, height: 30, format: 'jpeg' });
  db.images.insert({ id, original_path: original, bytes: 1, uploaded_at: daysAgo(age) });
  const files = [path.join(media, original)];
  if (withThumb) {
    const resized = `resized/${id}_resized.jpg`;
    fs.copyFileSync(files[0]!, path.join(media, resized));
    db.images.update(id, { status: 'processed', resized_path: resized });
    files.push(path.join(media, resized));
  }
  return files;
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-tasks-cleanup-'));
  media = path.join(root, 'media');
  fs.mkdirSync(path.join(media, 'original'), { recursive: true });
  fs.mkdirSync(path.join(media, 'resized'), { recursive: true });
  db = memoryRecords();
  logs = [];
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('cleanupImages', () => {
  it('has sensible defaults and keeps the task options', () => {
    const task = cleanupImages({ attempts: 2 });
    expect(task.queue).toBe('default');
    expect(task.attempts).toBe(2);
    expect(cleanupImages({ queue: 'maintenance' }).queue).toBe('maintenance');
    expect(() => cleanupImages({ olderThan: 'soon' })).toThrow(/not a duration/);
  });

  it('deletes records older than the limit with their files and keeps newer ones', async () => {
    const old1 = await addImage('img_old1', 40);
    const old2 = await addImage('img_old2', 31, false);
    const fresh = await addImage('img_new1', 3);
    // an old record whose files are already gone
    db.images.insert({ id: 'img_old3', original_path: 'original/gone.jpg', bytes: 1, uploaded_at: daysAgo(90) });

    const before = Date.now();
    const result = await cleanupImages().run(undefined, ctx());
    expect(result).toMatchObject({ deleted: 3, filesRemoved: 3, olderThan: '30d' });
    const cutoff = Date.parse(result.cutoff);
    expect(Math.abs(cutoff - (before - 30 * DAY))).toBeLessThan(5000);

    for (const f of [...old1, ...old2]) expect(fs.existsSync(f)).toBe(false);
    for (const f of fresh) expect(fs.existsSync(f)).toBe(true);
    expect(db.images.get('img_old1')).toBeUndefined();
    expect(db.images.get('img_old3')).toBeUndefined();
    expect(db.images.get('img_new1')).toBeDefined();
    expect(db.images.count()).toBe(1);
    expect(db.images.olderThanCalls.every((c) => c.limit === 500)).toBe(true);
  });

  it('lets the payload override the age and works in batches', async () => {
    for (let i = 0; i < 1203; i++) {
      db.images.insert({ id: `img_b${i}`, original_path: `original/b${i}.jpg`, bytes: 1, uploaded_at: daysAgo(5) });
    }
    await addImage('img_recent', 1);
    const task = cleanupImages({ olderThan: '30d' });
    expect((await task.run({}, ctx())).deleted).toBe(0);

    const result = await task.run({ olderThan: '2d' }, ctx());
    expect(result).toMatchObject({ deleted: 1203, filesRemoved: 0, olderThan: '2d' });
    expect(db.images.count()).toBe(1);
    // 3 batches of at most 500, then an empty one
    expect(db.images.olderThanCalls.filter((c) => c.iso === result.cutoff)).toHaveLength(4);
  });

  it('never removes files outside the media directory', async () => {
    const outside = path.join(root, 'keep-me.jpg');
    fs.writeFileSync(outside, 'x');
    db.images.insert({ id: 'img_evil', original_path: '../keep-me.jpg', bytes: 1, uploaded_at: daysAgo(100) });
    const result = await cleanupImages().run(undefined, ctx());
    expect(result).toMatchObject({ deleted: 1, filesRemoved: 0 });
    expect(fs.existsSync(outside)).toBe(true);
    expect(logs.some((l) => l.startsWith('warn:'))).toBe(true);
  });

  it('refuses a bad age in the payload', async () => {
    await expect(cleanupImages().run({ olderThan: 'yesterday' }, ctx())).rejects.toThrow(FatalTaskError);
  });

  it('cleans up what the resize task produced', async () => {
    const original = 'original/pic-abcdef.png';
    await writeTestImage(path.join(media, original), { width: 1000, height: 800, format: 'png' });
    const resized = await resizeImage().run({ imageId: 'img_pic', original }, ctx());
    db.images.update('img_pic', { uploaded_at: daysAgo(45) });
    const result = await cleanupImages().run(undefined, ctx());
    expect(result).toMatchObject({ deleted: 1, filesRemoved: 2 });
    expect(fs.existsSync(path.join(media, original))).toBe(false);
    expect(fs.existsSync(path.join(media, resized.resized))).toBe(false);
  });
});
