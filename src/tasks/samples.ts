/**
 * Sample images for the demo, tests and benchmarks, drawn from raw pixel buffers (fast: the
 * whole sample set takes well under a second or two).
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { errCode } from './media-paths.js';
import { loadSharp } from './sharp.js';
import type { Sharp } from 'sharp';

export type TestImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif';

export interface TestImageOptions {
  /** Stored size in pixels (before any EXIF orientation is applied). */
  width: number;
  height: number;
  format: TestImageFormat;
  /**
   * EXIF orientation 1-8 written into the file (JPEG, PNG, WebP, TIFF; AVIF stores it as a
   * rotation). With 6, a file stored 800x600 is shown as a 600x800 portrait. GIF cannot carry it.
   */
  orientation?: number;
  /** Changes the picture (colours, shape positions); default 0. */
  variant?: number;
  /** Adds a transparent border area (PNG, WebP, AVIF, TIFF, GIF). */
  alpha?: boolean;
}

/** Writes a picture (gradient background, a disc, stripes) of the given size and format. */
export async function writeTestImage(file: string, opts: TestImageOptions): Promise<void> {
  const { width, height, format } = opts;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`writeTestImage: bad size ${width}x${height}`);
  }
  const alpha = opts.alpha === true && format !== 'jpeg';
  const channels = alpha ? 4 : 3;
  const pixels = drawPicture(width, height, channels, opts.variant ?? 0);
  const sharp = await loadSharp();
  let image = sharp(pixels, { raw: { width, height, channels } });
  image = encodeSample(image, format);
  if (opts.orientation !== undefined) {
    if (!Number.isInteger(opts.orientation) || opts.orientation < 1 || opts.orientation > 8) {
      throw new RangeError(`writeTestImage: orientation must be 1-8, got ${opts.orientation}`);
    }
    if (format === 'gif') throw new RangeError('writeTestImage: GIF cannot carry an EXIF orientation');
    // `withExif({ IFD0: { Orientation: '6' } })` does not set it in sharp 0.35: the orientation
    // is written from the `orientation` field of withMetadata().
    image = image.withMetadata({ orientation: opts.orientation });
  }
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await image.toFile(file);
}

/** Encoder settings tuned for speed: samples are inputs, not outputs worth optimising. */
function encodeSample(image: Sharp, format: TestImageFormat): Sharp {
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 90 });
    case 'png':
      return image.png({ compressionLevel: 6 });
    case 'webp':
      return image.webp({ quality: 85, effort: 2 });
    case 'gif':
      return image.gif({ effort: 1, dither: 0 });
    case 'tiff':
      return image.tiff({ compression: 'lzw', predictor: 'horizontal' });
    case 'avif':
      return image.avif({ quality: 60, effort: 0 });
  }
}

/**
 * Raw interleaved pixels: a diagonal colour gradient, a disc in the upper left third and
 * stripes in the lower right, so orientation mistakes are visible.
 */
function drawPicture(width: number, height: number, channels: 3 | 4, variant: number): Buffer {
  const buf = Buffer.allocUnsafe(width * height * channels);
  const hue = (variant * 47) % 256;
  const cx = width * 0.3;
  const cy = height * 0.3;
  const r = Math.min(width, height) * 0.18;
  const r2 = r * r;
  const stripe = Math.max(4, Math.round(Math.min(width, height) / 24));
  const border = Math.max(1, Math.round(Math.min(width, height) * 0.05));
  let i = 0;
  for (let y = 0; y < height; y++) {
    const gy = (y * 255) / height;
    const dy2 = (y - cy) * (y - cy);
    for (let x = 0; x < width; x++) {
      const gx = (x * 255) / width;
      let red = (gx + hue) & 255;
      let green = gy;
      let blue = 255 - ((gx + gy) >> 1);
      const dx = x - cx;
      if (dx * dx + dy2 <= r2) {
        red = 250;
        green = 220;
        blue = 40;
      } else if (x > width * 0.6 && y > height * 0.6 && (((x + y) / stripe) | 0) % 2 === 0) {
        red = 30;
        green = 30;
        blue = 60;
      }
      buf[i++] = red;
      buf[i++] = green;
      buf[i++] = blue;
      if (channels === 4) {
        const edge = x < border || y < border || x >= width - border || y >= height - border;
        buf[i++] = edge ? 0 : 255;
      }
    }
  }
  return buf;
}

interface Sample {
  name: string;
  options: TestImageOptions;
}

/** The sample set: several sizes, every default format, one EXIF-rotated portrait. */
export const SAMPLE_IMAGES: readonly Sample[] = [
  { name: 'landscape-3000x2000.jpg', options: { width: 3000, height: 2000, format: 'jpeg', variant: 0 } },
  { name: 'fullhd-1920x1080.jpg', options: { width: 1920, height: 1080, format: 'jpeg', variant: 1 } },
  { name: 'portrait-1200x1600.jpg', options: { width: 1200, height: 1600, format: 'jpeg', variant: 2 } },
  { name: 'photo-640x480.jpg', options: { width: 640, height: 480, format: 'jpeg', variant: 3 } },
  // Smaller than the thumbnail box: must not be enlarged.
  { name: 'small-400x300.jpg', options: { width: 400, height: 300, format: 'jpeg', variant: 4 } },
  // Stored 1600x1200 (landscape) with orientation 6: an upright 1200x1600 portrait.
  {
    name: 'rotated-exif6-1200x1600.jpg',
    options: { width: 1600, height: 1200, format: 'jpeg', orientation: 6, variant: 5 },
  },
  { name: 'graphic-1600x1200.png', options: { width: 1600, height: 1200, format: 'png', variant: 6, alpha: true } },
  { name: 'icon-300x300.png', options: { width: 300, height: 300, format: 'png', variant: 7 } },
  { name: 'banner-2400x800.webp', options: { width: 2400, height: 800, format: 'webp', variant: 8 } },
  { name: 'still-1000x750.gif', options: { width: 1000, height: 750, format: 'gif', variant: 9 } },
  { name: 'scan-2000x1500.tiff', options: { width: 2000, height: 1500, format: 'tiff', variant: 10 } },
  { name: 'photo-1920x1280.avif', options: { width: 1920, height: 1280, format: 'avif', variant: 11 } },
];

/**
 * Creates the sample images in `dir` (those not there yet) and returns the paths of all of
 * them, sorted.
 */
export async function generateSampleImages(dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  await fsp.mkdir(root, { recursive: true });
  const files = await Promise.all(
    SAMPLE_IMAGES.map(async ({ name, options }) => {
      const file = path.join(root, name);
      if (!(await isFile(file))) {
        // Write next to the target and rename, so an interrupted run leaves no half image.
        const tmp = path.join(root, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
        try {
          await writeTestImage(tmp, options);
        } catch (err) {
          await fsp.rm(tmp, { force: true });
          throw err;
        }
        await fsp.rename(tmp, file);
      }
      return file;
    }),
  );
  return files.sort();
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fsp.stat(file)).isFile();
  } catch (err) {
    // Missing: it is made. Anything else (permissions, I/O) is the caller's to see.
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}
