/**
 * Media-relative paths: resolving them safely inside the media directory.
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';

/**
 * Resolves a media-relative path (`original/cat-3f9a1c.jpg`) inside `media`, or returns
 * `undefined` when it is empty, absolute, contains a `..` segment or a NUL byte, or would not
 * name something strictly inside the media directory.
 */
export function resolveInMedia(media: string, relative: string): string | undefined {
  if (typeof relative !== 'string' || relative === '' || relative.includes('\0')) return undefined;
  if (path.isAbsolute(relative) || path.posix.isAbsolute(relative) || path.win32.isAbsolute(relative)) {
    return undefined;
  }
  const segments = relative.split(/[\\/]+/);
  if (segments.includes('..')) return undefined;
  const root = path.resolve(media);
  const full = path.resolve(root, relative);
  return isStrictlyInside(root, full) ? full : undefined;
}

/** Whether `child` is inside `root` (and not `root` itself); both absolute. */
export function isStrictlyInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Like `resolveInMedia`, but also follows symbolic links of an existing file and refuses one
 * whose real location is outside the (real) media directory. A missing file resolves to its
 * lexical path (the caller reports it as missing).
 */
export async function resolveExistingInMedia(media: string, relative: string): Promise<string | undefined> {
  const full = resolveInMedia(media, relative);
  if (full === undefined) return undefined;
  // Both at once: one filesystem round trip per run instead of two.
  const root = fsp.realpath(path.resolve(media));
  root.catch(() => undefined); // observed below unless the file is missing
  let real: string;
  try {
    real = await fsp.realpath(full);
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return full;
    throw err;
  }
  return isStrictlyInside(await root, real) ? real : undefined;
}

export function errCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}
