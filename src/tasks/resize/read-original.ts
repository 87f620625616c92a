/**
 * Reading an original into memory: thumbnails are made from a buffer (it gives filesystem errors
 * their codes, and an SVG read from a buffer cannot reference files next to it).
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { FatalTaskError } from '../../core/errors.js';
import { errCode } from '../media-paths.js';

/** Bytes read from an original together with its stat (a typical photo's whole file). */
const FIRST_READ = 1024 * 1024;

/**
 * Reads the whole original at `file` (`original` is its media-relative path, for messages). A
 * missing file or something that is not a regular file is permanent: `onMissing` runs (the
 * handler makes sure the record exists) and a FatalTaskError follows. Other errors are rethrown
 * as they are.
 */
export async function readOriginal(file: string, original: string, onMissing: () => void): Promise<Buffer> {
  const missing = (what: string): never => {
    onMissing();
    throw new FatalTaskError(`original image ${what}: ${original}`);
  };
  let handle: fsp.FileHandle;
  try {
    // Non-blocking, as in the upload's readability check: a FIFO is then refused below, not waited on.
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
    // Not waited for: nothing depends on it, and a close is one more round trip per image. A
    // file opened read-only has no buffered writes that a failed close could lose.
    handle.close().catch(() => undefined);
  }
}
