import { describe, expect, it } from 'vitest';
import {
  acceptedFormats,
  detectedFormat,
  extensionFor,
  isAcceptedFormat,
  normalizeFormatName,
  outputFormatFor,
  resizedRelativePath,
  safeExtension,
  sanitizeBaseName,
  sniffFormat,
  storedOriginalName,
  unsupportedFormatMessage,
} from '../../src/tasks/image-formats.js';
import { resolveInMedia } from '../../src/tasks/media-paths.js';

describe('detectedFormat', () => {
  it('maps heif with av1 compression to avif', () => {
    expect(detectedFormat({ format: 'heif', compression: 'av1' })).toBe('avif');
  });
  it('names heif with hevc compression heic, which is not accepted by default', () => {
    const format = detectedFormat({ format: 'heif', compression: 'hevc' });
    expect(format).toBe('heic');
    expect(isAcceptedFormat(format)).toBe(false);
    expect(isAcceptedFormat(format, ['heic'])).toBe(true);
  });
  it('keeps the other formats', () => {
    for (const f of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'svg']) expect(detectedFormat({ format: f })).toBe(f);
  });
});

describe('accepted formats', () => {
  it('accepts the six default formats', () => {
    for (const f of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif']) expect(isAcceptedFormat(f)).toBe(true);
    expect(acceptedFormats()).toEqual(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif']);
  });
  it('refuses svg and others unless allowed', () => {
    expect(isAcceptedFormat('svg')).toBe(false);
    expect(isAcceptedFormat('svg', ['svg'])).toBe(true);
    expect(isAcceptedFormat('svg', ['SVG'])).toBe(true);
    expect(isAcceptedFormat('jp2')).toBe(false);
    expect(isAcceptedFormat('')).toBe(false);
    expect(acceptedFormats(['svg', 'jpg'])).toEqual(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'svg']);
  });
  it('normalizes aliases', () => {
    expect(normalizeFormatName('JPG')).toBe('jpeg');
    expect(normalizeFormatName('.tif')).toBe('tiff');
  });
  it('explains a refusal on one line', () => {
    expect(unsupportedFormatMessage('svg')).toBe('unsupported image format "svg" (accepted: jpeg, png, webp, gif, tiff, avif)');
  });
});

describe('outputFormatFor', () => {
  it('keeps the default formats', () => {
    for (const f of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif']) expect(outputFormatFor(f)).toBe(f);
  });
  it('writes svg as png and other allowed rasters as jpeg (png with alpha)', () => {
    expect(outputFormatFor('svg')).toBe('png');
    expect(outputFormatFor('heic')).toBe('jpeg');
    expect(outputFormatFor('heic', true)).toBe('png');
  });
});

describe('extensionFor', () => {
  it('uses .jpg for jpeg unless the original was .jpeg', () => {
    expect(extensionFor('jpeg')).toBe('.jpg');
    expect(extensionFor('jpeg', '.png')).toBe('.jpg');
    expect(extensionFor('jpeg', '.jpeg')).toBe('.jpeg');
    expect(extensionFor('jpeg', '.JPEG')).toBe('.jpeg');
    expect(extensionFor('jpeg', 'jpg')).toBe('.jpg');
  });
  it('keeps a matching original extension, else the usual one', () => {
    expect(extensionFor('tiff', '.tif')).toBe('.tif');
    expect(extensionFor('tiff', '.tiff')).toBe('.tiff');
    expect(extensionFor('tiff', '')).toBe('.tif');
    expect(extensionFor('png', '.jpg')).toBe('.png');
    expect(extensionFor('avif', '.heic')).toBe('.avif');
  });
  it('names thumbnails after the original', () => {
    expect(resizedRelativePath('original/cat-3f9a1c.jpg', 'jpeg')).toBe('resized/cat-3f9a1c_resized.jpg');
    expect(resizedRelativePath('original/cat-3f9a1c.jpeg', 'jpeg')).toBe('resized/cat-3f9a1c_resized.jpeg');
    // content wins over the extension
    expect(resizedRelativePath('original/fake-1.png', 'jpeg')).toBe('resized/fake-1_resized.jpg');
    expect(resizedRelativePath('original/logo-2.svg', 'png')).toBe('resized/logo-2_resized.png');
    expect(resizedRelativePath('original/noext-3', 'gif')).toBe('resized/noext-3_resized.gif');
  });
});

describe('name sanitizing', () => {
  it('keeps lower-case ascii letters, digits, - and _', () => {
    expect(sanitizeBaseName('cat_01-b')).toBe('cat_01-b');
    expect(sanitizeBaseName('My Holiday Photo (2)')).toBe('my-holiday-photo-2');
  });
  it('strips accents and collapses other characters', () => {
    expect(sanitizeBaseName('Café crème')).toBe('cafe-creme');
    expect(sanitizeBaseName('猫の写真')).toBe('image');
    expect(sanitizeBaseName('a 🐱 b')).toBe('a-b');
  });
  it('strips leading dashes and dots', () => {
    expect(sanitizeBaseName('--rf')).toBe('rf');
    expect(sanitizeBaseName('...hidden')).toBe('hidden');
    expect(sanitizeBaseName('-.-x')).toBe('x');
  });
  it('caps the length at 60 and falls back to image', () => {
    expect(sanitizeBaseName('a'.repeat(200))).toHaveLength(60);
    expect(sanitizeBaseName(`${'a'.repeat(59)} b`)).toBe('a'.repeat(59));
    expect(sanitizeBaseName('')).toBe('image');
    expect(sanitizeBaseName('---')).toBe('image');
  });
  it('keeps a short alphanumeric extension, lower-cased', () => {
    expect(safeExtension('Photo.JPG')).toBe('jpg');
    expect(safeExtension('x.tiff')).toBe('tiff');
    expect(safeExtension('x.toolongext')).toBe('');
    expect(safeExtension('x.j p g')).toBe('');
    expect(safeExtension('noext')).toBe('');
    expect(safeExtension('.bashrc')).toBe('');
  });
  it('builds stored names from a path', () => {
    expect(storedOriginalName('../../My Cat.JPG', 'abc123')).toBe('my-cat-abc123.jpg');
    expect(storedOriginalName('-rf.png', '00ff00')).toBe('rf-00ff00.png');
    expect(storedOriginalName('Ünïcödé 写真.jpeg', 'aa11bb')).toBe('unicode-aa11bb.jpeg');
    expect(storedOriginalName('weird.ext!', 'aa11bb')).toBe('weird-ext-aa11bb');
    for (const name of ['../x.jpg', ' spaced  name .png', '-', '.', '..']) {
      expect(storedOriginalName(name, 'abcdef')).toMatch(/^[a-z0-9_][a-z0-9_-]*-abcdef(\.[a-z0-9]{1,5})?$/);
    }
  });
});

describe('resolveInMedia', () => {
  it('resolves paths inside the media directory', () => {
    expect(resolveInMedia('/srv/media', 'original/cat.jpg')).toBe('/srv/media/original/cat.jpg');
  });
  it('refuses paths that escape it', () => {
    for (const bad of ['../../etc/passwd', '/etc/passwd', 'original/../../x', '', '.', 'original/..', 'a\0b']) {
      expect(resolveInMedia('/srv/media', bad)).toBeUndefined();
    }
  });
});

describe('sniffFormat', () => {
  it('names each default format from its signature', () => {
    const bytes = (...parts: (string | number[])[]) =>
      Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
    expect(sniffFormat(bytes([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(sniffFormat(bytes([0x89], 'PNG\r\n\x1a\n'))).toBe('png');
    expect(sniffFormat(bytes('GIF89a'))).toBe('gif');
    expect(sniffFormat(bytes('GIF87a'))).toBe('gif');
    expect(sniffFormat(bytes('RIFF', [1, 2, 3, 4], 'WEBPVP8 '))).toBe('webp');
    expect(sniffFormat(bytes('II*', [0]))).toBe('tiff');
    expect(sniffFormat(bytes('MM', [0], '*'))).toBe('tiff');
    expect(sniffFormat(bytes([0, 0, 0, 28], 'ftypavif'))).toBe('avif');
  });

  it('leaves everything else (SVG, HEIC, text, truncated signatures) to the header check', () => {
    const text = (t: string) => Uint8Array.from([...t].map((c) => c.charCodeAt(0)));
    expect(sniffFormat(text('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
    expect(sniffFormat(Uint8Array.from([0, 0, 0, 24, ...text('ftypheic')]))).toBeUndefined();
    expect(sniffFormat(Uint8Array.from([0xff, 0xd8]))).toBeUndefined();
    expect(sniffFormat(text('RIFF....WAVE'))).toBeUndefined();
    expect(sniffFormat(new Uint8Array(0))).toBeUndefined();
  });
});
