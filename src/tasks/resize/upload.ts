/**
 * The upload path of `resize` (its `fromArgs`): `tq enqueue resize a.jpg b.png` and the client's
 * `enqueueFiles` copy each file into `media/original/` under a new unique name and store its
 * image record (`pending`); the runs then carry only the record id and the media-relative path.
 */
import path from 'node:path';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { RecordsStore } from '../../core/records.js';
import type { CliInputContext, PreparedRun } from '../../core/task.js';
import { UsageError, errorMessage } from '../../core/errors.js';
import { storedOriginalName } from '../image-formats.js';
import { errCode } from '../media-paths.js';
import { newImageId } from './image-id.js';
import type { ResizePayload } from './options.js';

interface Source {
  arg: string;
  file: string;
}

/** A file copied into media and its record. */
interface Stored {
  id: string;
  file: string;
}

/**
 * Stores the files named by `args` (relative to `cli.cwd`) and returns one run per file, with
 * `recordId` in its meta. Every file is checked before any is copied, so a typo does not leave
 * half an upload behind; a failure while storing undoes what was stored.
 */
export async function prepareUploads(args: string[], cli: CliInputContext): Promise<PreparedRun<ResizePayload>[]> {
  if (args.length === 0) {
    throw new UsageError('resize needs one or more image files', { hint: 'tq enqueue resize photos/cat.jpg' });
  }
  const sources: Source[] = [];
  for (const arg of args) sources.push({ arg, file: await checkReadable(arg, path.resolve(cli.cwd, arg)) });

  const dir = path.join(cli.media, 'original');
  await fsp.mkdir(dir, { recursive: true });
  const done: Stored[] = [];
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
    await undoStored(cli.db, done);
    throw err;
  }
  return runs;
}

/**
 * Removes the copies and records of an upload that failed part way. Best effort: the failure
 * that stopped the upload is the one to report, so filesystem and SQLite errors met here are
 * left out (anything else is a bug and surfaces).
 */
async function undoStored(db: RecordsStore, done: readonly Stored[]): Promise<void> {
  const expected = (err: unknown): void => {
    const code = errCode(err);
    if (code === undefined) throw err;
  };
  for (const { id, file } of done) {
    await fsp.rm(file, { force: true }).catch(expected);
    try {
      db.images.delete(id);
    } catch (err) {
      expected(err); // SQLite errors carry a code too (SQLITE_BUSY, SQLITE_READONLY, ...)
    }
  }
}

/** Refuses (as a usage error) a path that is missing, unreadable or not a regular file. */
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
      // ENOENT is either the source (gone since it was checked: the user's mistake) or the
      // media directory (gone since it was made: an error of this host).
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
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}
