/**
 * Making a thumbnail with sharp and putting it in place: written to a temporary file next to its
 * final place, then renamed, so a reader (or a re-run after a crash) never sees a half-written one.
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Sharp } from 'sharp';
import { FatalTaskError, errorMessage } from '../../core/errors.js';
import { resizedRelativePath, type OutputFormat } from '../image-formats.js';
import { errCode, resolveInMedia } from '../media-paths.js';
import { FAIL_ON, loadSharp } from '../sharp.js';
import { oneLine } from './one-line.js';
import type { ResizeSettings } from './options.js';

/** A thumbnail written to a temporary file next to its final place. */
export interface Thumbnail {
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
export type Placement = Pick<Thumbnail, 'format' | 'resized' | 'target'>;

/** What makes a thumbnail: the size it fits in, the quality and the pixel limit. */
export type ThumbnailSettings = Pick<ResizeSettings, 'maxWidth' | 'maxHeight' | 'quality' | 'maxPixels'>;

/** Where the thumbnail of `original` in `format` goes. */
export function placeThumbnail(media: string, original: string, format: OutputFormat): Placement {
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
 * directory (no copy of it in JS memory); `placeAtomically` renames it into place. A decoding
 * failure is a corrupt image (final); a failed write is not the image's fault and may be retried.
 */
export async function makeThumbnail(data: Buffer, s: ThumbnailSettings, place: Placement): Promise<Thumbnail> {
  const { format, target } = place;
  // Animated GIF / WebP: sharp loads only the first frame unless `pages` is given, so the
  // thumbnail of an animation is a still of its first frame.
  const sharp = await loadSharp();
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const pipeline = () => {
    const p = sharp(data, { failOn: FAIL_ON, limitInputPixels: s.maxPixels }).autoOrient().resize({
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
    await discard(tmp);
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
export async function placeAtomically(thumb: Thumbnail, fsync: boolean): Promise<void> {
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

/** Removes a thumbnail that will not be used (its temporary file; nothing was put in place). */
export async function discardThumbnail(thumb: Thumbnail): Promise<void> {
  await discard(thumb.tmp);
}

/**
 * Removes a temporary file. Only ever called while another outcome is being reported (the run's
 * own error or result), which a failed removal must not replace: a stray `.tmp` file is
 * harmless, hidden, and never mistaken for a thumbnail.
 */
async function discard(tmp: string): Promise<void> {
  await fsp.rm(tmp, { force: true }).catch((err: unknown) => {
    if (errCode(err) === undefined) throw err;
  });
}
