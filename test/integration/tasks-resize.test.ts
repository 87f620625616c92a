import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/core/records.js';
import { memoryRecords } from '../helpers/records.js';
import type { CliInputContext, TaskContext } from '../../src/core/task.js';
import { FatalTaskError, UsageError } from '../../src/core/errors.js';
import { resizeImage, writeTestImage, generateSampleImages } from '../../src/tasks/index.js';
import type { ResizePayload, ResizeResult } from '../../src/tasks/index.js';

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

let root: string;
let media: string;
let inputs: string;
const db = memoryRecords();

interface Harness {
  ctx: TaskContext;
  progress: Array<number | Record<string, unknown>>;
  logs: string[];
  controller: AbortController;
}

function makeCtx(attempt = 1): Harness {
  const progress: Harness['progress'] = [];
  const logs: string[] = [];
  const controller = new AbortController();
  const ctx: TaskContext = {
    id: 'run-1',
    name: 'resize',
    queue: 'images',
    attempt,
    signal: controller.signal,
    progress: async (v) => {
      progress.push(v);
    },
    log: async (line) => {
      logs.push(line);
    },
    db,
    media,
    enqueue: async () => ({ id: 'x' }),
    logger: { info: (m) => logs.push(`info: ${m}`), warn: (m) => logs.push(`warn: ${m}`) },
  };
  return { ctx, progress, logs, controller };
}

let counter = 0;
/** Puts a file into media/original and returns its payload (record not created: run ensures it). */
function placeOriginal(name: string, data: Buffer | string): ResizePayload {
  const rel = `original/${name}`;
  fs.writeFileSync(path.join(media, rel), data);
  return { imageId: `img_test${++counter}`, original: rel };
}

async function placeImage(name: string, opts: Parameters<typeof writeTestImage>[1]): Promise<ResizePayload> {
  const rel = `original/${name}`;
  await writeTestImage(path.join(media, rel), opts);
  return { imageId: `img_test${++counter}`, original: rel };
}

async function expectFatal(payload: ResizePayload, pattern: RegExp, task = resizeImage()): Promise<ImageRecord> {
  const { ctx } = makeCtx();
  const err = await Promise.resolve(task.run(payload, ctx)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FatalTaskError);
  expect((err as Error).message).toMatch(pattern);
  expect((err as Error).message).not.toContain('\n');
  const record = db.images.get(payload.imageId);
  expect(record).toBeDefined();
  expect(record!.status).toBe('failed');
  expect(record!.error).toBe((err as Error).message);
  return record!;
}

async function run(payload: ResizePayload, task = resizeImage()): Promise<{ result: ResizeResult; h: Harness }> {
  const h = makeCtx();
  const result = await task.run(payload, h.ctx);
  return { result, h };
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-tasks-resize-'));
  media = path.join(root, 'media');
  inputs = path.join(root, 'inputs');
  fs.mkdirSync(path.join(media, 'original'), { recursive: true });
  fs.mkdirSync(inputs, { recursive: true });
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('resizeImage() definition', () => {
  it('defaults to the images queue and keeps the task options', () => {
    const task = resizeImage({ attempts: 3, timeout: '30s', maxWidth: 100 });
    expect(task.queue).toBe('images');
    expect(task.attempts).toBe(3);
    expect(task.timeout).toBe('30s');
    expect(typeof task.description).toBe('string');
    expect(typeof task.fromArgs).toBe('function');
    expect('maxWidth' in task).toBe(false);
    expect(resizeImage({ queue: 'thumbs' }).queue).toBe('thumbs');
  });
  it('refuses nonsense options', () => {
    expect(() => resizeImage({ quality: 0 })).toThrow(/quality/);
    expect(() => resizeImage({ maxWidth: -1 })).toThrow(/maxWidth/);
  });
});

describe('resize run', () => {
  it('makes an 800x533 JPEG thumbnail of a 3000x2000 JPEG and records it', async () => {
    const payload = await placeImage('big-aaaaaa.jpg', { width: 3000, height: 2000, format: 'jpeg' });
    const { result, h } = await run(payload);
    expect(result).toMatchObject({
      imageId: payload.imageId,
      original: payload.original,
      resized: 'resized/big-aaaaaa_resized.jpg',
      format: 'jpeg',
      width: 3000,
      height: 2000,
      resizedWidth: 800,
      resizedHeight: 533,
    });
    const out = path.join(media, result.resized);
    expect(fs.existsSync(out)).toBe(true);
    expect(result.resizedBytes).toBe(fs.statSync(out).size);
    expect(result.bytes).toBe(fs.statSync(path.join(media, payload.original)).size);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 800, 533]);

    const record = db.images.get(payload.imageId)!;
    expect(record).toMatchObject({
      status: 'processed',
      original_path: payload.original,
      resized_path: result.resized,
      width: 3000,
      height: 2000,
      resized_width: 800,
      resized_height: 533,
      bytes: result.bytes,
      resized_bytes: result.resizedBytes,
      error: null,
    });
    expect(record.bytes).toBeGreaterThan(0);
    expect(new Date(record.processed_at!).toISOString()).toBe(record.processed_at);
    expect(h.progress[0]).toBe(10);
    expect(h.progress.at(-1)).toBe(100);
    expect(h.logs.join('\n')).toContain('resized/big-aaaaaa_resized.jpg');
    // no temporary files left behind
    expect(fs.readdirSync(path.join(media, 'resized')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reads an original larger than its first read whole (a 1500x1500 noise JPEG of several MB)', async () => {
    // Noise does not compress: at quality 100 the file is several MB, past the first 1 MiB read.
    const noise = Buffer.from(Array.from({ length: 1500 * 1500 * 3 }, (_, i) => (i * 2654435761) >>> 24));
    const jpeg = await sharp(noise, { raw: { width: 1500, height: 1500, channels: 3 } })
      .jpeg({ quality: 100 })
      .toBuffer();
    expect(jpeg.length).toBeGreaterThan(2 * 1024 * 1024);
    const payload = placeOriginal('noise-abcabc.jpg', jpeg);
    const { result } = await run(payload);
    expect(result).toMatchObject({ format: 'jpeg', width: 1500, height: 1500, resizedWidth: 600, resizedHeight: 600, bytes: jpeg.length });
    const meta = await sharp(path.join(media, result.resized)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 600, 600]);
  });

  it('is idempotent: a second run rewrites the same thumbnail', async () => {
    const payload = await placeImage('again-bbbbbb.jpeg', { width: 1000, height: 1000, format: 'jpeg' });
    const first = (await run(payload)).result;
    const second = (await run(payload)).result;
    expect(second).toEqual(first);
    expect(first.resized).toBe('resized/again-bbbbbb_resized.jpeg');
    expect(fs.readdirSync(path.join(media, 'resized')).filter((f) => f.includes('again-bbbbbb'))).toEqual(['again-bbbbbb_resized.jpeg']);
  });

  it('does not enlarge a 400x300 image', async () => {
    const payload = await placeImage('small-cccccc.jpg', { width: 400, height: 300, format: 'jpeg' });
    const { result } = await run(payload);
    expect([result.resizedWidth, result.resizedHeight]).toEqual([400, 300]);
    const meta = await sharp(path.join(media, result.resized)).metadata();
    expect([meta.width, meta.height]).toEqual([400, 300]);
  });

  it.each([
    ['png', 'png', '.png'],
    ['webp', 'webp', '.webp'],
    ['gif', 'gif', '.gif'],
    ['tiff', 'tiff', '.tiff'],
    ['avif', 'heif', '.avif'],
  ] as const)('keeps the %s format', async (format, sharpFormat, ext) => {
    const payload = await placeImage(`keep-${format}-dddddd${ext}`, { width: 1200, height: 900, format });
    const { result } = await run(payload);
    expect(result.format).toBe(format);
    expect(result.resized).toBe(`resized/keep-${format}-dddddd_resized${ext}`);
    expect([result.resizedWidth, result.resizedHeight]).toEqual([800, 600]);
    const meta = await sharp(path.join(media, result.resized)).metadata();
    expect(meta.format).toBe(sharpFormat);
    if (format === 'avif') expect(meta.compression).toBe('av1');
    expect([meta.width, meta.height]).toEqual([800, 600]);
  });

  it('detects the format from the content, not the extension', async () => {
    const payload = await placeImage('liar-eeeeee.png', { width: 900, height: 600, format: 'jpeg' });
    const { result } = await run(payload);
    expect(result.format).toBe('jpeg');
    expect(result.resized).toBe('resized/liar-eeeeee_resized.jpg');
    expect((await sharp(path.join(media, result.resized)).metadata()).format).toBe('jpeg');
  });

  it('writes PNG thumbnails compactly (adaptive filtering, level 9)', async () => {
    const payload = await placeImage('compact-ffffff.png', { width: 1600, height: 1200, format: 'png', alpha: true });
    const { result } = await run(payload);
    const out = path.join(media, result.resized);
    const meta = await sharp(out).metadata();
    expect(meta.hasAlpha).toBe(true);
    const naive = await sharp(path.join(media, payload.original)).resize(800, 600).png().toBuffer();
    expect(result.resizedBytes).toBeLessThan(naive.length);
  });

  it('applies the EXIF orientation: a portrait stored 800x600 with orientation 6 comes out 450x600', async () => {
    const payload = await placeImage('rotated-111111.jpg', { width: 800, height: 600, format: 'jpeg', orientation: 6 });
    const stored = await sharp(path.join(media, payload.original)).metadata();
    expect([stored.width, stored.height, stored.orientation]).toEqual([800, 600, 6]);

    const { result } = await run(payload);
    expect([result.width, result.height]).toEqual([600, 800]);
    expect([result.resizedWidth, result.resizedHeight]).toEqual([450, 600]);
    const meta = await sharp(path.join(media, result.resized)).metadata();
    expect([meta.width, meta.height]).toEqual([450, 600]);
    expect(meta.orientation ?? 1).toBe(1);
    const record = db.images.get(payload.imageId)!;
    expect([record.width, record.height, record.resized_width, record.resized_height]).toEqual([600, 800, 450, 600]);
  });

  it('creates the record when this host does not have it, using the file size', async () => {
    const payload = await placeImage('remote-222222.webp', { width: 300, height: 200, format: 'webp' });
    expect(db.images.get(payload.imageId)).toBeUndefined();
    const { result } = await run(payload);
    const record = db.images.get(payload.imageId)!;
    expect(record.status).toBe('processed');
    expect(record.bytes).toBe(fs.statSync(path.join(media, payload.original)).size);
    expect(result.bytes).toBe(record.bytes);
  });

  it('stops before writing when the signal is aborted', async () => {
    const payload = await placeImage('abort-333333.jpg', { width: 500, height: 500, format: 'jpeg' });
    const h = makeCtx();
    const reason = new Error('cancelled by test');
    h.controller.abort(reason);
    await expect(resizeImage().run(payload, h.ctx)).rejects.toBe(reason);
    expect(fs.existsSync(path.join(media, 'resized/abort-333333_resized.jpg'))).toBe(false);
    const record = db.images.get(payload.imageId)!;
    expect(record.status).toBe('failed');
    expect(record.error).toBe('cancelled by test');
  });

  it('a thumbnail that cannot be written is a retryable failure that says so, not a corrupt image', async () => {
    const payload = await placeImage('nowhere-565656.jpg', { width: 500, height: 500, format: 'jpeg' });
    // The worker made media/resized earlier (it remembers that); now something else is there.
    const resizedDir = path.join(media, 'resized');
    await run(await placeImage('first-575757.jpg', { width: 300, height: 200, format: 'jpeg' }));
    const moved = `${resizedDir}.moved`;
    fs.renameSync(resizedDir, moved);
    fs.writeFileSync(resizedDir, 'not a directory');
    try {
      const h = makeCtx(1);
      const err = await Promise.resolve(resizeImage({ attempts: 3 }).run(payload, h.ctx)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(FatalTaskError);
      expect((err as Error).message).toMatch(/^cannot write the thumbnail nowhere-565656_resized\.jpg: /);
      expect(db.images.get(payload.imageId)).toMatchObject({ status: 'pending' });
    } finally {
      fs.rmSync(resizedDir);
      fs.renameSync(moved, resizedDir);
    }
  });

  it('keeps the record pending after a retryable error while attempts remain', async () => {
    const payload = await placeImage('retry-444444.jpg', { width: 500, height: 500, format: 'jpeg' });
    const h = makeCtx(1);
    h.controller.abort(new Error('shutdown'));
    await expect(resizeImage({ attempts: 3 }).run(payload, h.ctx)).rejects.toThrow('shutdown');
    expect(db.images.get(payload.imageId)!.status).toBe('pending');
    // and the next attempt succeeds
    const { result } = await run(payload, resizeImage({ attempts: 3 }));
    expect(result.resizedWidth).toBe(500);
    expect(db.images.get(payload.imageId)).toMatchObject({ status: 'processed', error: null });
  });
});

describe('resize failures are permanent and recorded', () => {
  let realJpeg: Buffer;
  beforeAll(async () => {
    const file = path.join(root, 'real.jpg');
    await writeTestImage(file, { width: 1200, height: 800, format: 'jpeg' });
    realJpeg = fs.readFileSync(file);
  });

  it('random bytes', async () => {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const record = await expectFatal(placeOriginal('noise-555555.jpg', bytes), /^corrupt or unrecognised image: /);
    expect(record.bytes).toBe(4096);
  });

  it('a truncated JPEG (first half of a real one)', async () => {
    const half = realJpeg.subarray(0, Math.floor(realJpeg.length / 2));
    // sharp reads the header of a truncated JPEG happily ...
    expect((await sharp(half).metadata()).width).toBe(1200);
    // ... and only failOn 'none' decodes it without complaint
    await expect(sharp(half, { failOn: 'none' }).resize(100).toBuffer()).resolves.toBeInstanceOf(Buffer);
    await expectFatal(placeOriginal('half-666666.jpg', half), /^corrupt or truncated image: .*premature end of JPEG/);
  });

  it('a zero-byte file', async () => {
    await expectFatal(placeOriginal('empty-777777.jpg', Buffer.alloc(0)), /^image file is empty/);
  });

  it('a text file named .jpg', async () => {
    await expectFatal(
      placeOriginal('text-888888.jpg', 'this is not an image\n'),
      /^corrupt or unrecognised image: .*unsupported image format/,
    );
  });

  it('a missing original', async () => {
    await expectFatal({ imageId: 'img_missing1', original: 'original/gone-999999.jpg' }, /^original image is missing: /);
  });

  it('a directory instead of a file', async () => {
    fs.mkdirSync(path.join(media, 'original', 'dir-aaaaaa.jpg'));
    await expectFatal({ imageId: 'img_dir1', original: 'original/dir-aaaaaa.jpg' }, /not a regular file/);
  });

  it('a FIFO planted in media fails at once instead of waiting for a writer', async () => {
    const fifo = path.join(media, 'original', 'pipe-abcdef.jpg');
    execFileSync('mkfifo', [fifo]);
    // Nobody ever writes to it: a blocking open would hang this run (and a thread-pool thread).
    await expectFatal({ imageId: 'img_fifo1', original: 'original/pipe-abcdef.jpg' }, /^original image is not a regular file: /);
  });

  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="500">' +
    '<rect width="1000" height="500" fill="#36c"/><circle cx="500" cy="250" r="200" fill="#fc0"/></svg>';

  it('an SVG by default', async () => {
    await expectFatal(
      placeOriginal('logo-bbbbbb.svg', svg),
      /^unsupported image format "svg" \(accepted: jpeg, png, webp, gif, tiff, avif\)$/,
    );
  });

  it('but an SVG is accepted (as a PNG thumbnail) with allow: [svg]', async () => {
    const payload = placeOriginal('logo-cccccc.svg', svg);
    const { result } = await run(payload, resizeImage({ allow: ['svg'] }));
    expect(result).toMatchObject({ format: 'png', resized: 'resized/logo-cccccc_resized.png', width: 1000, height: 500 });
    expect([result.resizedWidth, result.resizedHeight]).toEqual([800, 400]);
    expect((await sharp(path.join(media, result.resized)).metadata()).format).toBe('png');
  });

  it('an image over the pixel limit (maxPixels 1000, 100x100 image)', async () => {
    const payload = await placeImage('bomb-dddddd.png', { width: 100, height: 100, format: 'png' });
    await expectFatal(payload, /^image is 100x100 = 10000 pixels, over the 1000-pixel limit$/, resizeImage({ maxPixels: 1000 }));
  });

  it('a real 30000x30000 PNG against the default 100-megapixel limit', async () => {
    const started = Date.now();
    const payload = placeOriginal('huge-eeeeee.png', hugeBlankPng(30000, 30000));
    expect((await sharp(path.join(media, payload.original), { limitInputPixels: false }).metadata()).width).toBe(30000);
    await expectFatal(payload, /^image is 30000x30000 = 900000000 pixels, over the 100000000-pixel limit$/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a path outside the media directory, without creating a record', async () => {
    for (const original of ['../../etc/passwd', '/etc/passwd', 'original/../../x.jpg']) {
      const { ctx } = makeCtx();
      const imageId = `img_escape${++counter}`;
      await expect(resizeImage().run({ imageId, original }, ctx)).rejects.toThrow(FatalTaskError);
      await expect(resizeImage().run({ imageId, original }, ctx)).rejects.toThrow(/outside the media directory/);
      expect(db.images.get(imageId)).toBeUndefined();
    }
  });

  it('a symlink pointing outside the media directory', async () => {
    const outside = path.join(root, 'secret.jpg');
    fs.writeFileSync(outside, realJpeg);
    fs.symlinkSync(outside, path.join(media, 'original', 'link-ffffff.jpg'));
    const { ctx } = makeCtx();
    await expect(resizeImage().run({ imageId: 'img_link', original: 'original/link-ffffff.jpg' }, ctx)).rejects.toThrow(
      /outside the media directory/,
    );
  });

  it('a malformed payload', async () => {
    const { ctx } = makeCtx();
    await expect(resizeImage().run({ imageId: 1 } as unknown as ResizePayload, ctx)).rejects.toThrow(FatalTaskError);
  });
});

/** A valid 1-bit greyscale PNG of the given size, all black, built by hand (cheap at any size). */
function hugeBlankPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rowBytes = 1 + Math.ceil(width / 8);
  const idat = zlib.deflateSync(Buffer.alloc(rowBytes * height), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('fromArgs', () => {
  function cli(): CliInputContext & { ticks: number } {
    const c = {
      cwd: inputs,
      media,
      db,
      ticks: 0,
      tick: () => {
        c.ticks++;
      },
    };
    return c;
  }

  it('copies odd names into media/original under safe unique names and inserts records', async () => {
    fs.mkdirSync(path.join(inputs, 'sub'), { recursive: true });
    const names = ['my holiday photo.JPG', 'Café crème.png', '-rf.jpg', '猫.webp', 'sub/../../inputs/up.gif'];
    await writeTestImage(path.join(inputs, 'my holiday photo.JPG'), { width: 64, height: 48, format: 'jpeg' });
    await writeTestImage(path.join(inputs, 'Café crème.png'), { width: 64, height: 48, format: 'png' });
    await writeTestImage(path.join(inputs, '-rf.jpg'), { width: 64, height: 48, format: 'jpeg' });
    await writeTestImage(path.join(inputs, '猫.webp'), { width: 64, height: 48, format: 'webp' });
    await writeTestImage(path.join(inputs, 'up.gif'), { width: 64, height: 48, format: 'gif' });
    // a file outside cwd, reached with ../
    await writeTestImage(path.join(root, 'outside file.tiff'), { width: 64, height: 48, format: 'tiff' });
    names.push('../outside file.tiff');

    const c = cli();
    const before = fs.readdirSync(path.join(media, 'original')).length;
    const runs = await resizeImage().fromArgs!(names, c);
    expect(runs).toHaveLength(names.length);
    expect(c.ticks).toBe(names.length);
    const stored = runs.map((r) => path.posix.basename(r.payload.original));
    expect(stored[0]).toMatch(/^my-holiday-photo-[0-9a-f]{6,}\.jpg$/);
    expect(stored[1]).toMatch(/^cafe-creme-[0-9a-f]{6,}\.png$/);
    expect(stored[2]).toMatch(/^rf-[0-9a-f]{6,}\.jpg$/);
    expect(stored[3]).toMatch(/^image-[0-9a-f]{6,}\.webp$/);
    expect(stored[4]).toMatch(/^up-[0-9a-f]{6,}\.gif$/);
    expect(stored[5]).toMatch(/^outside-file-[0-9a-f]{6,}\.tiff$/);
    expect(fs.readdirSync(path.join(media, 'original')).length).toBe(before + names.length);

    runs.forEach((r, i) => {
      expect(r.label).toBe(names[i]);
      expect(r.payload.original).toMatch(/^original\/[a-z0-9_][a-z0-9_-]*\.[a-z0-9]+$/);
      expect(r.payload.imageId).toMatch(/^img_[0-9a-z]{10}$/);
      expect(r.meta).toEqual({ recordId: r.payload.imageId });
      const record = db.images.get(r.payload.imageId)!;
      expect(record.original_path).toBe(r.payload.original);
      expect(record.status).toBe('pending');
      const file = path.join(media, r.payload.original);
      expect(record.bytes).toBe(fs.statSync(file).size);
    });
    // the copies are byte-identical
    expect(fs.readFileSync(path.join(media, runs[0]!.payload.original))).toEqual(fs.readFileSync(path.join(inputs, names[0]!)));

    // and the worker can process them
    const { result } = await run(runs[1]!.payload);
    expect(result.format).toBe('png');
  });

  it('gives two enqueues of the same file two different stored names and ids', async () => {
    await writeTestImage(path.join(inputs, 'twice.jpg'), { width: 32, height: 32, format: 'jpeg' });
    const a = await resizeImage().fromArgs!(['twice.jpg'], cli());
    const b = await resizeImage().fromArgs!(['twice.jpg'], cli());
    expect(a[0]!.payload.original).not.toBe(b[0]!.payload.original);
    expect(a[0]!.payload.imageId).not.toBe(b[0]!.payload.imageId);
    expect(fs.existsSync(path.join(media, a[0]!.payload.original))).toBe(true);
    expect(fs.existsSync(path.join(media, b[0]!.payload.original))).toBe(true);
  });

  it('does not decode at enqueue: a corrupt file is accepted and fails in the worker', async () => {
    fs.writeFileSync(path.join(inputs, 'broken.jpg'), 'not really a jpeg');
    const runs = await resizeImage().fromArgs!(['broken.jpg'], cli());
    expect(runs).toHaveLength(1);
    await expectFatal(runs[0]!.payload, /^corrupt or unrecognised image/);
  });

  it('refuses a missing file with a UsageError and copies nothing', async () => {
    const c = cli();
    const before = fs.readdirSync(path.join(media, 'original')).length;
    const count = db.images.count();
    const err = await resizeImage().fromArgs!(['twice.jpg', 'x.jpg'], c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe('cannot read image "x.jpg": no such file');
    expect(fs.readdirSync(path.join(media, 'original')).length).toBe(before);
    expect(db.images.count()).toBe(count);
    expect(c.ticks).toBe(0);
  });

  it('refuses a directory and an empty argument list', async () => {
    await expect(resizeImage().fromArgs!(['sub'], cli())).rejects.toThrow(/cannot read image "sub": is a directory/);
    await expect(resizeImage().fromArgs!([], cli())).rejects.toThrow(UsageError);
  });
});

describe('generateSampleImages', () => {
  it('creates a dozen varied images quickly and reuses them', async () => {
    const dir = path.join(root, 'samples');
    const started = Date.now();
    const files = await generateSampleImages(dir);
    const elapsed = Date.now() - started;
    expect(files).toHaveLength(12);
    expect([...files].sort()).toEqual(files);
    expect(elapsed).toBeLessThan(5000);
    const formats = new Set<string>();
    for (const file of files) {
      const meta = await sharp(file).metadata();
      formats.add(meta.format === 'heif' ? 'avif' : meta.format);
    }
    expect([...formats].sort()).toEqual(['avif', 'gif', 'jpeg', 'png', 'tiff', 'webp']);
    const rotated = files.find((f) => f.includes('exif6'))!;
    const meta = await sharp(rotated).metadata();
    expect(meta.orientation).toBe(6);
    expect(meta.width).toBeGreaterThan(meta.height);
    expect(meta.autoOrient.width).toBeLessThan(meta.autoOrient.height);

    const mtime = fs.statSync(files[0]!).mtimeMs;
    expect(await generateSampleImages(dir)).toEqual(files);
    expect(fs.statSync(files[0]!).mtimeMs).toBe(mtime);
  });
});
