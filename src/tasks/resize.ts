/**
 * The `resize` task: makes a thumbnail of an uploaded original with sharp and keeps the image
 * record (in `ctx.db`) up to date.
 *
 * Files live under the media directory: originals in `original/`, thumbnails in `resized/`;
 * payloads and records only hold media-relative paths, so a worker on another host with the
 * same (shared) media directory can process them.
 */
import path from 'node:path';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Metadata, Sharp } from 'sharp';
import type { RecordsStore } from '../core/records.js';
import type { CliInputContext, PreparedRun, TaskContext, TaskDefinition, TaskOptions } from '../core/task.js';
import { ConfigError, FatalTaskError, UsageError, errorMessage } from '../core/errors.js';
import { formatBytes } from '../core/duration.js';
import {
  acceptedFormats,
  detectedFormat,
  isAcceptedFormat,
  outputFormatFor,
  resizedRelativePath,
  sniffFormat,
  storedOriginalName,
  unsupportedFormatMessage,
  type OutputFormat,
} from './image-formats.js';
import { errCode, resolveExistingInMedia, resolveInMedia } from './media-paths.js';
import { loadSharp } from './sharp.js';

export interface ResizePayload {
  /** Id of the image record. */
  imageId: string;
  /** Path of the original relative to the media directory, e.g. `original/cat-3f9a1c.jpg`. */
  original: string;
}

export interface ResizeResult {
  imageId: string;
  original: string;
  /** Path of the thumbnail relative to the media directory, e.g. `resized/cat-3f9a1c_resized.jpg`. */
  resized: string;
  /** Format of the thumbnail (the original's format for jpeg, png, webp, gif, tiff, avif). */
  format: string;
  /** Upright (EXIF-oriented) size of the original. */
  width: number;
  height: number;
  resizedWidth: number;
  resizedHeight: number;
  /** Size of the original file. */
  bytes: number;
  resizedBytes: number;
}

export type ResizeOptions = TaskOptions & {
  /** Thumbnails fit inside maxWidth x maxHeight (default 800 x 600); smaller images are not enlarged. */
  maxWidth?: number;
  maxHeight?: number;
  /** JPEG / WebP / AVIF / TIFF quality, 1-100 (default 85). */
  quality?: number;
  /** Formats accepted beside jpeg, png, webp, gif, tiff, avif (e.g. `['svg']`). */
  allow?: string[];
  /** Largest accepted image in pixels (width x height), default 100 megapixels. */
  maxPixels?: number;
  /**
   * fsync every thumbnail before it is renamed into place and its record says `processed`, so
   * that it survives a power cut too (default false). Thumbnails are always written atomically
   * (temporary file + rename): a crashed worker never leaves a half-written one. An fsync per
   * image costs about a tenth of resize throughput on a typical disk.
   */
  fsync?: boolean;
};

export const RESIZE_DEFAULTS = {
  maxWidth: 800,
  maxHeight: 600,
  quality: 85,
  maxPixels: 100_000_000,
} as const;

/**
 * How picky the decoder is. `'none'` decodes a truncated JPEG into a grey-bottomed image without
 * complaint; `'truncated'` and above reject it. `'error'` rejects truncated and corrupt data but
 * (unlike sharp's default `'warning'`) lets through the harmless warnings real-world cameras
 * produce (e.g. "extraneous bytes before marker").
 */
export const FAIL_ON = 'error' as const;

/** Bytes read from an original together with its stat (a typical photo's whole file). */
const FIRST_READ = 1024 * 1024;

/** Filesystem error codes that may go away on a retry. */
export const TRANSIENT_FS_CODES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'EBUSY', 'EIO', 'EAGAIN']);

/** Whether an error is a filesystem error worth another attempt. */
export function isTransientFsError(err: unknown): boolean {
  const code = errCode(err);
  return code !== undefined && TRANSIENT_FS_CODES.has(code);
}

export function resizeImage(options: ResizeOptions = {}): TaskDefinition<ResizePayload, ResizeResult> {
  const { maxWidth, maxHeight, quality, allow, maxPixels, fsync, ...taskOptions } = options;
  const settings: ResizeSettings = {
    maxWidth: maxWidth ?? RESIZE_DEFAULTS.maxWidth,
    maxHeight: maxHeight ?? RESIZE_DEFAULTS.maxHeight,
    quality: quality ?? RESIZE_DEFAULTS.quality,
    maxPixels: maxPixels ?? RESIZE_DEFAULTS.maxPixels,
    allow: [...(allow ?? [])],
    attempts: taskOptions.attempts ?? 1,
    fsync: fsync ?? false,
  };
  validateSettings(settings);

  return {
    ...taskOptions,
    queue: options.queue ?? 'images',
    description:
      options.description ??
      `Make a thumbnail (at most ${settings.maxWidth}x${settings.maxHeight}) of an image file`,
    run: (payload: ResizePayload, ctx: TaskContext) => runResize(payload, ctx, settings),
    fromArgs: (args: string[], ctx: CliInputContext) => prepareUploads(args, ctx),
    // sharp (libvips) takes ~0.1-0.2 s to load: a worker loads it before its first run.
    warmup: async () => {
      await loadSharp();
    },
  };
}

interface ResizeSettings {
  maxWidth: number;
  maxHeight: number;
  quality: number;
  maxPixels: number;
  allow: string[];
  attempts: number;
  fsync: boolean;
}

function validateSettings(s: ResizeSettings): void {
  const problems: string[] = [];
  const positiveInt = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1) problems.push(`${name} must be a positive integer, got ${value}`);
  };
  positiveInt('maxWidth', s.maxWidth);
  positiveInt('maxHeight', s.maxHeight);
  positiveInt('maxPixels', s.maxPixels);
  if (typeof s.fsync !== 'boolean') problems.push(`fsync must be true or false, got ${JSON.stringify(s.fsync)}`);
  if (!Number.isInteger(s.quality) || s.quality < 1 || s.quality > 100) {
    problems.push(`quality must be an integer from 1 to 100, got ${s.quality}`);
  }
  for (const name of s.allow) {
    if (typeof name !== 'string' || !/^[a-z0-9.+-]+$/i.test(name)) problems.push(`allow: "${String(name)}" is not a format name`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`resizeImage(): invalid options: ${problems.join('; ')}`, problems);
  }
}

// ---------------------------------------------------------------------------------------------
// run

async function runResize(payload: ResizePayload, ctx: TaskContext, s: ResizeSettings): Promise<ResizeResult> {
  const { imageId, original } = checkPayload(payload);
  const images = ctx.db.images;

  const source = await resolveExistingInMedia(ctx.media, original);
  if (source === undefined) {
    const message = `image path "${original}" is outside the media directory`;
    // Never create a record for such a path, but do not leave an existing one "processing".
    if (images.get(imageId)) images.update(imageId, { status: 'failed', error: message });
    throw new FatalTaskError(message);
  }

  let recorded = false;
  const ensureRecord = (bytes: number): void => {
    // One transaction: one commit instead of two.
    ctx.db.transaction(() => {
      images.ensure({ id: imageId, original_path: original, bytes });
      images.update(imageId, { status: 'processing', error: null });
    });
    recorded = true;
  };

  try {
    ctx.signal.throwIfAborted();
    const data = await readOriginal(source, original, ensureRecord);
    if (data.length === 0) {
      ensureRecord(0);
      throw new FatalTaskError('image file is empty (0 bytes)');
    }

    // The common case: the file's signature names a format accepted as it is. Its thumbnail is
    // then made while sharp reads the header for the checks and the record, instead of after
    // it (a step fewer per image: about 5 % of resize throughput). The header still decides:
    // anything it rejects discards that thumbnail, and any other file takes the careful path.
    const sniffed = sniffFormat(data);
    const guess = sniffed !== undefined && isAcceptedFormat(sniffed, s.allow) ? sniffed : undefined;
    const early = guess === undefined ? undefined : makeThumbnail(data, s, placeThumbnail(ctx.media, original, guess));
    early?.catch(() => undefined); // awaited or discarded below
    // The record says `processing` while sharp works (its write overlaps the decoding).
    ensureRecord(data.length);
    await ctx.progress(10);
    let thumb: Thumbnail | undefined;
    let usedEarly = false;
    let meta: Metadata;
    let format: string;
    try {
      meta = await readMetadata(data);
      format = detectedFormat(meta);
      if (!isAcceptedFormat(format, s.allow)) throw new FatalTaskError(unsupportedFormatMessage(format, s.allow));
      checkPixels(meta.width, meta.height, s.maxPixels);
      const outFormat = outputFormatFor(format, meta.hasAlpha);
      usedEarly = early !== undefined && outFormat === guess;
      thumb = usedEarly ? await early! : await makeThumbnail(data, s, placeThumbnail(ctx.media, original, outFormat));
      await ctx.progress(80);
      // Last chance to stop: the thumbnail is not in place yet.
      ctx.signal.throwIfAborted();
      await placeAtomically(thumb, s.fsync);
    } catch (err) {
      if (thumb) await discardThumbnail(thumb);
      throw err;
    } finally {
      // An early thumbnail that was not the one used (another format, or a refusal first).
      if (early && !usedEarly) void early.then(discardThumbnail, () => undefined);
    }
    // Upright size of the original: a 800x600 file with orientation 6 is a 600x800 picture.
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    const resized = thumb.resized;

    images.update(imageId, {
      status: 'processed',
      resized_path: resized,
      width,
      height,
      resized_width: thumb.width,
      resized_height: thumb.height,
      bytes: data.length,
      resized_bytes: thumb.bytes,
      processed_at: new Date().toISOString(),
      error: null,
    });
    await ctx.progress(100);
    await ctx.log(
      `${original} (${format}, ${width}x${height}, ${formatBytes(data.length)}) -> ` +
        `${resized} (${thumb.width}x${thumb.height}, ${formatBytes(thumb.bytes)})`,
    );
    return {
      imageId,
      original,
      resized,
      format: thumb.format,
      width,
      height,
      resizedWidth: thumb.width,
      resizedHeight: thumb.height,
      bytes: data.length,
      resizedBytes: thumb.bytes,
    };
  } catch (err) {
    recordFailure(ctx, imageId, original, err, recorded, s.attempts);
    throw err;
  }
}

function checkPayload(payload: unknown): ResizePayload {
  const p = payload as Partial<ResizePayload> | null | undefined;
  if (!p || typeof p !== 'object' || typeof p.imageId !== 'string' || p.imageId === '' || typeof p.original !== 'string') {
    throw new FatalTaskError('resize payload must be { imageId: string, original: string }');
  }
  return { imageId: p.imageId, original: p.original };
}

/**
 * Reads the whole original (thumbnails are made from a buffer: it gives filesystem errors their
 * codes, and an SVG read from a buffer cannot reference files next to it). A missing file or
 * something that is not a regular file is permanent; other errors are rethrown as they are.
 */
async function readOriginal(file: string, original: string, ensureRecord: (bytes: number) => void): Promise<Buffer> {
  const missing = (what: string): never => {
    ensureRecord(0);
    throw new FatalTaskError(`original image ${what}: ${original}`);
  };
  let handle: fsp.FileHandle;
  try {
    // Non-blocking, as in `checkReadable`: a FIFO is then refused below, not waited on.
    handle = await fsp.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return missing('is missing');
    if (code === 'EISDIR') return missing('is not a regular file');
    throw err;
  }
  try {
    // The size and the first FIRST_READ bytes at once (most originals are whole after that):
    // two thread-pool round trips instead of readFile's four or more. A FIFO (opened without
    // blocking) or a device gives at most that much before its stat refuses it.
    const head = Buffer.allocUnsafe(FIRST_READ);
    const [stat, bytesRead] = await Promise.all([
      handle.stat(),
      handle.read(head, 0, FIRST_READ, 0).then(
        (r) => r.bytesRead,
        (err: unknown) => ({ err }),
      ),
    ]);
    if (!stat.isFile()) return missing('is not a regular file');
    if (typeof bytesRead !== 'number') throw bytesRead.err;
    if (bytesRead >= stat.size) return head.subarray(0, bytesRead);
    // A larger file: the rest in one more read of the size it has (one that grows meanwhile is
    // read as it was; one that shrank gives what is there).
    const data = Buffer.allocUnsafe(stat.size);
    head.copy(data, 0, 0, bytesRead);
    let filled = bytesRead;
    while (filled < data.length) {
      const more = await handle.read(data, filled, data.length - filled, filled);
      if (more.bytesRead === 0) break;
      filled += more.bytesRead;
    }
    return filled === data.length ? data : data.subarray(0, filled);
  } catch (err) {
    if (errCode(err) === 'EISDIR') return missing('is not a regular file');
    throw err;
  } finally {
    // Not waited for: nothing depends on it, and a close is one more round trip per image.
    handle.close().catch(() => undefined);
  }
}

async function readMetadata(data: Buffer): Promise<Metadata> {
  const sharp = await loadSharp();
  try {
    // Header only: no pixel limit here so that an oversized image gets a message with its size.
    return await sharp(data, { failOn: FAIL_ON, limitInputPixels: false }).metadata();
  } catch (err) {
    throw new FatalTaskError(`corrupt or unrecognised image: ${oneLine(errorMessage(err))}`, { cause: err });
  }
}

function checkPixels(width: number, height: number, maxPixels: number): void {
  const pixels = width * height;
  if (pixels > maxPixels) {
    throw new FatalTaskError(
      `image is ${width}x${height} = ${pixels} pixels, over the ${maxPixels}-pixel limit`,
    );
  }
}

/** A thumbnail written to a temporary file next to its final place. */
interface Thumbnail {
  format: OutputFormat;
  /** Media-relative path it goes to. */
  resized: string;
  target: string;
  tmp: string;
  width: number;
  height: number;
  bytes: number;
}

/** Where a thumbnail goes: its format, media-relative path and full path. */
type Placement = Pick<Thumbnail, 'format' | 'resized' | 'target'>;

/** Where the thumbnail of `original` in `format` goes. */
function placeThumbnail(media: string, original: string, format: OutputFormat): Placement {
  const resized = resizedRelativePath(original, format);
  const target = resolveInMedia(media, resized);
  if (target === undefined) throw new FatalTaskError(`cannot place the thumbnail of "${original}" in the media directory`);
  return { resized, target, format };
}

/** Directories this process already made sure exist (one mkdir per directory, not per image). */
const madeDirs = new Set<string>();

async function ensureDir(dir: string, again = false): Promise<void> {
  if (madeDirs.has(dir) && !again) return;
  await fsp.mkdir(dir, { recursive: true });
  madeDirs.add(dir);
}

/**
 * Makes the thumbnail and has sharp write it straight to a temporary file in the target's
 * directory (no copy of it in JS memory); `placeAtomically` renames it into place.
 */
async function makeThumbnail(data: Buffer, s: ResizeSettings, place: Placement): Promise<Thumbnail> {
  const { format, target } = place;
  // Animated GIF / WebP: sharp loads only the first frame unless `pages` is given, so the
  // thumbnail of an animation is a still of its first frame.
  const sharp = await loadSharp();
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const pipeline = () => {
    const p = sharp(data, { failOn: FAIL_ON, limitInputPixels: s.maxPixels })
      .autoOrient()
      .resize({
        width: s.maxWidth,
        height: s.maxHeight,
        fit: 'inside',
        withoutEnlargement: true,
        kernel: 'lanczos3',
      });
    encode(p, format, s.quality);
    return p.toFile(tmp);
  };
  await ensureDir(dir);
  let info;
  try {
    try {
      info = await pipeline();
    } catch (err) {
      // The directory went away since this process made it (someone tidied the media folder).
      if (errCode(err) !== 'ENOENT' && !/no such file or directory/i.test(errorMessage(err))) throw err;
      await ensureDir(dir, true);
      info = await pipeline();
    }
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (errCode(err) !== undefined) throw err; // a filesystem error keeps its code (transient ones are retried)
    const message = oneLine(errorMessage(err));
    // libvips reports a failed write (disk full, directory gone or not one) as text: that is
    // not the image's fault, so the run may be retried and the reason says what happened.
    if (message.includes(tmp) || /for writing|unable to write|no space left/i.test(message)) {
      throw new Error(`cannot write the thumbnail ${path.basename(target)}: ${message}`, { cause: err });
    }
    throw new FatalTaskError(`corrupt or truncated image: ${message}`, { cause: err });
  }
  return { ...place, tmp, width: info.width, height: info.height, bytes: info.size };
}

/** Sets the output format and its options (metadata is stripped and colours made sRGB, sharp's default). */
function encode(pipeline: Sharp, format: OutputFormat, quality: number): Sharp {
  switch (format) {
    case 'jpeg':
      return pipeline.jpeg({ quality, mozjpeg: false });
    case 'png':
      // sharp's default PNG (no adaptive filtering, level 6) is about twice Pillow's size.
      return pipeline.png({ adaptiveFiltering: true, compressionLevel: 9 });
    case 'webp':
      return pipeline.webp({ quality });
    case 'avif':
      // effort 2 instead of the default 4: about 8x faster for a 800x600 thumbnail, a few
      // percent larger.
      return pipeline.avif({ quality, effort: 2 });
    case 'gif':
      // effort 3 instead of the default 7: palette generation at 7 takes seconds.
      return pipeline.gif({ effort: 3 });
    case 'tiff':
      // Lossless LZW: the most widely readable TIFF compression.
      return pipeline.tiff({ compression: 'lzw', predictor: 'horizontal' });
  }
}

/**
 * Puts a thumbnail in place with a rename, so a reader (or a re-run after a crash) never sees a
 * half-written one; with `fsync` its data is on disk before the rename.
 */
async function placeAtomically(thumb: Thumbnail, fsync: boolean): Promise<void> {
  if (fsync) {
    const handle = await fsp.open(thumb.tmp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  await fsp.rename(thumb.tmp, thumb.target);
}

async function discardThumbnail(thumb: Thumbnail): Promise<void> {
  await fsp.rm(thumb.tmp, { force: true }).catch(() => undefined);
}

/**
 * Records a failure on the image record. A FatalTaskError fails it; any other error (transient
 * filesystem error, abort, ...) leaves it `pending` with the error while attempts remain and
 * fails it on the last one. The caller rethrows the original error.
 */
function recordFailure(
  ctx: TaskContext,
  imageId: string,
  original: string,
  err: unknown,
  recorded: boolean,
  attempts: number,
): void {
  const message = oneLine(errorMessage(err));
  try {
    const images = ctx.db.images;
    if (!recorded && !images.get(imageId)) images.ensure({ id: imageId, original_path: original, bytes: 0 });
    const final = err instanceof FatalTaskError || ctx.attempt >= attempts;
    images.update(imageId, { status: final ? 'failed' : 'pending', error: message });
  } catch (dbErr) {
    ctx.logger.warn(`could not record the failure of image ${imageId}: ${errorMessage(dbErr)}`);
  }
}

/**
 * Error text on one line, at most 500 characters. libvips repeats a message once per failed
 * read (and its error buffer is shared by concurrent decodes), so repeated lines are dropped.
 */
export function oneLine(text: string): string {
  const parts = text.trim().split(/\s*[\r\n]+\s*/).filter(Boolean);
  const line = [...new Set(parts)].join('; ');
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}

// ---------------------------------------------------------------------------------------------
// fromArgs: `tq enqueue resize a.jpg b.png`

interface Source {
  arg: string;
  file: string;
}

async function prepareUploads(args: string[], cli: CliInputContext): Promise<PreparedRun<ResizePayload>[]> {
  if (args.length === 0) {
    throw new UsageError('resize needs one or more image files', { hint: 'tq enqueue resize photos/cat.jpg' });
  }
  // Check every file before copying any, so a typo does not leave half an upload behind.
  const sources: Source[] = [];
  for (const arg of args) sources.push({ arg, file: await checkReadable(arg, path.resolve(cli.cwd, arg)) });

  const dir = path.join(cli.media, 'original');
  await fsp.mkdir(dir, { recursive: true });
  const done: Array<{ id: string; file: string }> = [];
  const runs: PreparedRun<ResizePayload>[] = [];
  try {
    for (const { arg, file } of sources) {
      const name = await copyUnique(arg, file, dir);
      const stored = path.join(dir, name);
      const original = `original/${name}`;
      const bytes = (await fsp.stat(stored)).size;
      const imageId = newImageId(cli.db);
      try {
        cli.db.images.insert({ id: imageId, original_path: original, bytes });
      } catch (err) {
        await fsp.rm(stored, { force: true });
        throw err;
      }
      done.push({ id: imageId, file: stored });
      runs.push({ payload: { imageId, original }, meta: { recordId: imageId }, label: arg });
      cli.tick();
    }
  } catch (err) {
    for (const { id, file } of done) {
      await fsp.rm(file, { force: true }).catch(() => undefined);
      try {
        cli.db.images.delete(id);
      } catch {
        // best effort: the original error is the one to report
      }
    }
    throw err;
  }
  return runs;
}

async function checkReadable(arg: string, file: string): Promise<string> {
  let handle: fsp.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO planted in media must not park a thread-pool thread until a
    // writer shows up (a regular file ignores the flag).
    handle = await fsp.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw new UsageError(`cannot read image "${arg}": ${describeOpenError(err)}`, { cause: err });
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new UsageError(`cannot read image "${arg}": is a directory`);
    if (!stat.isFile()) throw new UsageError(`cannot read image "${arg}": not a regular file`);
  } finally {
    await handle.close();
  }
  return file;
}

function describeOpenError(err: unknown): string {
  switch (errCode(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return errorMessage(err);
  }
}

/** Copies `file` into `dir` under a new unique name; never overwrites. Returns the name. */
async function copyUnique(arg: string, file: string, dir: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const name = storedOriginalName(arg, randomBytes(4).toString('hex'));
    try {
      await fsp.copyFile(file, path.join(dir, name), fsConstants.COPYFILE_EXCL);
      return name;
    } catch (err) {
      if (errCode(err) === 'EEXIST') continue;
      if (errCode(err) === 'ENOENT' && !(await exists(file))) {
        throw new UsageError(`cannot read image "${arg}": no such file`, { cause: err });
      }
      throw err;
    }
  }
  throw new Error(`could not find a free name for "${arg}" in ${dir}`);
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.stat(file);
    return true;
  } catch {
    return false;
  }
}

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A new image id: `img_` and 10 base-32 characters (50 random bits), unused in `db`. */
export function newImageId(db?: RecordsStore): string {
  for (;;) {
    const bytes = randomBytes(10);
    let id = 'img_';
    for (const b of bytes) id += ID_ALPHABET[b & 31];
    if (!db || db.images.get(id) === undefined) return id;
  }
}

/** The formats a resize task with these options accepts (for help texts). */
export function resizeAcceptedFormats(options: Pick<ResizeOptions, 'allow'> = {}): string[] {
  return acceptedFormats(options.allow ?? []);
}
