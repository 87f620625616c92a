/**
 * The `resize` handler: makes a thumbnail of an uploaded original and keeps the image record
 * (in `ctx.db`) up to date: `processing` while it works, `processed` with the sizes after, and
 * `failed` (or `pending` again while attempts remain) with the reason when it cannot.
 */
import type { Metadata } from 'sharp';
import type { TaskContext } from '../../core/task.js';
import { FatalTaskError, errorMessage } from '../../core/errors.js';
import { formatBytes } from '../../core/duration.js';
import { detectedFormat, isAcceptedFormat, outputFormatFor, sniffFormat, unsupportedFormatMessage } from '../image-formats.js';
import { resolveExistingInMedia } from '../media-paths.js';
import { checkPixels, readMetadata } from './header.js';
import { oneLine } from './one-line.js';
import type { ResizePayload, ResizeResult, ResizeSettings } from './options.js';
import { readOriginal } from './read-original.js';
import { discardThumbnail, makeThumbnail, placeAtomically, placeThumbnail, type Thumbnail } from './thumbnail.js';

/** Runs one attempt of `resize` with the task's settings. */
export async function runResize(payload: ResizePayload, ctx: TaskContext, s: ResizeSettings): Promise<ResizeResult> {
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
    const data = await readOriginal(source, original, () => ensureRecord(0));
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
    // Marks the early attempt as observed: it is awaited below when used, and when it is not,
    // its failure says nothing about this run (the careful path decides).
    early?.catch(() => undefined);
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
      // An early thumbnail that was not the one used (another format, or a refusal first); one
      // that failed left nothing behind.
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
 * Records a failure on the image record. A FatalTaskError fails it; any other error (transient
 * filesystem error, abort, ...) leaves it `pending` with the error while attempts remain and
 * fails it on the last one. The caller rethrows the original error: a record that cannot be
 * written is logged, since the run's own error is the one to report.
 */
function recordFailure(ctx: TaskContext, imageId: string, original: string, err: unknown, recorded: boolean, attempts: number): void {
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
