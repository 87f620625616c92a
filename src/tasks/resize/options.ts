/**
 * What the `resize` task takes and gives (payload, result, options) and its settings resolved
 * from the options, checked once when the config is loaded.
 */
import { ConfigError } from '../../core/errors.js';
import { didYouMean } from '../../core/suggest.js';
import { TASK_OPTION_KEYS, type TaskOptions } from '../../core/task.js';

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

/** The resize-specific options with their defaults applied, plus the attempts the handler needs. */
export interface ResizeSettings {
  maxWidth: number;
  maxHeight: number;
  quality: number;
  maxPixels: number;
  allow: string[];
  /** The task's attempts: the record stays `pending` after a failed attempt while more remain. */
  attempts: number;
  fsync: boolean;
}

/**
 * Splits `resizeImage()` options into the resize settings (defaults applied, every problem
 * reported at once as a ConfigError) and the options every task takes.
 */
export function resolveResizeOptions(options: ResizeOptions): { settings: ResizeSettings; taskOptions: TaskOptions } {
  checkKeys(options);
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
  return { settings, taskOptions };
}

/** What `resizeImage()` accepts: its own options first, then every task's. */
export const RESIZE_OPTION_KEYS: readonly string[] = [
  'maxWidth',
  'maxHeight',
  'quality',
  'allow',
  'maxPixels',
  'fsync',
  ...TASK_OPTION_KEYS,
];

/** Unknown keys (a typo such as `maxWidht`) are refused with the closest known name and the full set. */
function checkKeys(options: object): void {
  const problems = Object.keys(options)
    .filter((key) => !RESIZE_OPTION_KEYS.includes(key))
    .map((key) => {
      const hint = didYouMean(key, RESIZE_OPTION_KEYS);
      return `unknown option "${key}"${hint ? ` (${hint})` : ''}`;
    });
  if (problems.length > 0) {
    throw new ConfigError(`resizeImage(): ${problems.join('; ')}; allowed: ${RESIZE_OPTION_KEYS.join(', ')}`, problems);
  }
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
