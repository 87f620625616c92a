/**
 * Which image formats the image tasks accept, what they are written as, and how files are
 * named. Everything here is pure (no sharp, no filesystem) so it can be unit-tested.
 */
import path from 'node:path';

/** Formats accepted without configuration; each is written back in its own format. */
export const DEFAULT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const;
export type DefaultFormat = (typeof DEFAULT_FORMATS)[number];

/** Formats the resize task can write (the thumbnail of any other accepted format is PNG or JPEG). */
export type OutputFormat = DefaultFormat;

/** Spellings users may put in `images.allow` and what they mean. */
const FORMAT_ALIASES: Record<string, string> = {
  jpg: 'jpeg',
  jpe: 'jpeg',
  jfif: 'jpeg',
  tif: 'tiff',
  hevc: 'heic',
  heics: 'heic',
  heif: 'heic',
};

/** File extensions (without the dot) that belong to each writable format; the first is the default. */
export const FORMAT_EXTENSIONS: Readonly<Record<OutputFormat, readonly string[]>> = {
  jpeg: ['jpg', 'jpeg', 'jpe', 'jfif'],
  png: ['png'],
  webp: ['webp'],
  gif: ['gif'],
  tiff: ['tif', 'tiff'],
  avif: ['avif'],
};

export function isDefaultFormat(format: string): format is DefaultFormat {
  return (DEFAULT_FORMATS as readonly string[]).includes(format);
}

const ascii = (data: Uint8Array, at: number, text: string): boolean => {
  if (data.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (data[at + i] !== text.charCodeAt(i)) return false;
  return true;
};

/**
 * The format of the default formats from a file's first bytes (its signature), or undefined for
 * anything else. Only a hint for the fast path: sharp's `metadata()` has the last word.
 */
export function sniffFormat(data: Uint8Array): DefaultFormat | undefined {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (ascii(data, 0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (ascii(data, 0, 'GIF87a') || ascii(data, 0, 'GIF89a')) return 'gif';
  if (ascii(data, 0, 'RIFF') && ascii(data, 8, 'WEBP')) return 'webp';
  if (ascii(data, 0, 'II*\0') || ascii(data, 0, 'MM\0*')) return 'tiff';
  if (ascii(data, 4, 'ftypavif') || ascii(data, 4, 'ftypavis')) return 'avif';
  return undefined;
}

/**
 * The format of an image as the tasks name it, from sharp's `metadata()`: sharp reports both
 * AVIF and HEIC as `heif`, told apart by `compression` (`av1` is AVIF, `hevc` is HEIC).
 */
export function detectedFormat(meta: { format?: string | undefined; compression?: string | undefined }): string {
  const format = (meta.format ?? '').toLowerCase();
  if (format === 'heif') {
    if (meta.compression === 'av1') return 'avif';
    if (meta.compression === 'hevc') return 'heic';
    return 'heif';
  }
  return normalizeFormatName(format);
}

/** Lower-cases a format name and maps aliases (`jpg` -> `jpeg`, `tif` -> `tiff`). */
export function normalizeFormatName(name: string): string {
  const lower = name.trim().toLowerCase().replace(/^\./, '');
  return FORMAT_ALIASES[lower] ?? lower;
}

/** The formats accepted with the given `images.allow` list, defaults first. */
export function acceptedFormats(allow: readonly string[] = []): string[] {
  const out: string[] = [...DEFAULT_FORMATS];
  for (const name of allow) {
    const format = normalizeFormatName(name);
    if (format && !out.includes(format)) out.push(format);
  }
  return out;
}

export function isAcceptedFormat(format: string, allow: readonly string[] = []): boolean {
  return acceptedFormats(allow).includes(normalizeFormatName(format));
}

/** The one-line refusal for a format that is not accepted. */
export function unsupportedFormatMessage(format: string, allow: readonly string[] = []): string {
  const shown = format === '' ? 'unknown' : format;
  return `unsupported image format "${shown}" (accepted: ${acceptedFormats(allow).join(', ')})`;
}

/**
 * The format a thumbnail is written in: the default formats keep theirs; anything else accepted
 * through `images.allow` (SVG, HEIC, ...) becomes PNG when it is a vector or has transparency,
 * JPEG otherwise.
 */
export function outputFormatFor(format: string, hasAlpha = false): OutputFormat {
  const normalized = normalizeFormatName(format);
  if (isDefaultFormat(normalized)) return normalized;
  if (normalized === 'svg' || normalized === 'pdf' || hasAlpha) return 'png';
  return 'jpeg';
}

/**
 * The extension (with the dot) for a file of `format`: the original extension when it already
 * names that format (`.jpeg` stays `.jpeg`, `.tif` stays `.tif`), else the format's usual one
 * (`.jpg` for JPEG).
 */
export function extensionFor(format: OutputFormat, originalExt = ''): string {
  const candidates = FORMAT_EXTENSIONS[format];
  const ext = originalExt.toLowerCase().replace(/^\./, '');
  if (candidates.includes(ext)) return `.${ext}`;
  return `.${candidates[0]}`;
}

/** Longest sanitized base name kept in stored file names. */
export const MAX_BASE_LENGTH = 60;

/**
 * A file-system and URL safe version of a base name: ASCII lower-case letters, digits, `-`
 * and `_` only (accents are stripped, anything else collapses to `-`), no leading dashes or
 * dots, at most 60 characters; `image` when nothing is left.
 */
export function sanitizeBaseName(name: string): string {
  let out = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+/, '');
  out = out.slice(0, MAX_BASE_LENGTH).replace(/-+$/, '');
  return out === '' ? 'image' : out;
}

/**
 * The extension of a file name, lower-cased and without the dot, when it is 1 to 5 ASCII
 * letters or digits; `''` otherwise (`photo.JPG` -> `jpg`, `archive.tar.gz` -> `gz`,
 * `notes.some thing` -> `''`).
 */
export function safeExtension(fileName: string): string {
  const ext = path.extname(path.basename(fileName)).slice(1).toLowerCase();
  return /^[a-z0-9]{1,5}$/.test(ext) ? ext : '';
}

/** The stored name of an uploaded original: `<sanitized base>-<suffix>[.<ext>]`. */
export function storedOriginalName(fileName: string, suffix: string): string {
  const base = path.basename(fileName);
  const ext = safeExtension(base);
  const stem = ext === '' ? base : base.slice(0, base.length - ext.length - 1);
  return `${sanitizeBaseName(stem)}-${suffix}${ext === '' ? '' : `.${ext}`}`;
}

/**
 * The media-relative path of the thumbnail of `original` (itself media-relative):
 * `original/cat-3f9a1c.jpg` as JPEG -> `resized/cat-3f9a1c_resized.jpg`.
 */
export function resizedRelativePath(original: string, format: OutputFormat): string {
  const base = path.posix.basename(original.replace(/\\/g, '/'));
  const ext = path.posix.extname(base);
  const stem = ext === '' ? base : base.slice(0, -ext.length);
  return `resized/${stem}_resized${extensionFor(format, ext)}`;
}
