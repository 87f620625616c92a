/**
 * Enqueueing files for a task that defines `fromArgs` (what `tq enqueue resize a.jpg` does), for
 * both clients: bytes are written to a temporary file first, `fromArgs` stores each file and its
 * record, then the runs are enqueued; records of runs that could not be enqueued are failed.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedConfig, ResolvedTask } from '../config/index.js';
import { UsageError } from '../core/errors.js';
import { failNotEnqueued } from '../core/not-enqueued.js';
import type { RecordsStore } from '../core/records.js';
import type { EnqueueOptions, PreparedRun } from '../core/task.js';
import type { ClientOptions, EnqueuedFile, FileInput, RunHandle } from './types.js';

/** What a client hands to `enqueueFilesWith`. */
export interface FileEnqueueTarget {
  /** The task as named by the caller, and as the config resolved it (undefined: unknown). */
  readonly taskName: string;
  readonly task: ResolvedTask | undefined;
  /** The media directory `fromArgs` stores files in. */
  readonly media: string;
  readonly records: RecordsStore;
  /** Enqueues every prepared run, in order, or throws (nothing is known to be enqueued then). */
  enqueue(prepared: readonly PreparedRun<unknown>[], options: EnqueueOptions): Promise<RunHandle[]>;
}

/**
 * Stores `files` through the task's `fromArgs` and enqueues their runs. A failed enqueue fails
 * the records it left `pending` (with the reason) before the error is rethrown.
 */
export async function enqueueFilesWith(
  target: FileEnqueueTarget,
  files: readonly FileInput[],
  options: EnqueueOptions,
): Promise<EnqueuedFile[]> {
  const { task, taskName } = target;
  if (!task) throw new UsageError(`unknown task "${taskName}"`);
  const fromArgs = task.definition.fromArgs;
  if (!fromArgs) throw new UsageError(`task "${taskName}" does not take files (give it a fromArgs, as resizeImage() does)`);
  if (files.length === 0) throw new UsageError(`enqueueFiles("${taskName}") needs one or more files`);
  if (options.id !== undefined && files.length > 1) throw new UsageError('options.id names one run; give one file with it');

  const staged = await stageFiles(files);
  try {
    const prepared = await fromArgs(staged.args, { cwd: process.cwd(), media: target.media, db: target.records, tick: () => undefined });
    let runs: RunHandle[];
    try {
      runs = await target.enqueue(prepared, options);
    } catch (err) {
      failNotEnqueued(target.records, prepared, err);
      throw err;
    }
    return prepared.map((p, i) => {
      const meta = { ...p.meta };
      const label = p.label ?? staged.args[i] ?? '';
      return {
        file: staged.names.get(label) ?? label,
        recordId: typeof meta.recordId === 'string' ? meta.recordId : undefined,
        meta,
        run: runs[i]!,
      };
    });
  } finally {
    await staged.remove();
  }
}

/**
 * The media directory a client stores files in: `options.media` (an option, so relative to the
 * working directory, as a flag is), else the config's (resolved against the config's directory).
 */
export function clientMediaDir(resolved: ResolvedConfig, options: Pick<ClientOptions, 'media'>): string {
  return options.media === undefined ? resolved.mediaDir : path.resolve(options.media);
}

interface Staged {
  /** What `fromArgs` gets: the paths as given, and temporary files for bytes. */
  args: string[];
  /** Temporary file -> the file name it was given under. */
  names: Map<string, string>;
  remove(): Promise<void>;
}

/** Writes byte inputs to temporary files under their own names (fromArgs names stored files after them). */
async function stageFiles(files: readonly FileInput[]): Promise<Staged> {
  const names = new Map<string, string>();
  if (files.every((f) => typeof f === 'string')) return { args: [...files], names, remove: async () => undefined };
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tq-upload-'));
  const remove = () =>
    fsp.rm(dir, { recursive: true, force: true }).catch((err: unknown) => {
      // The runs are enqueued (or the error that stopped them is on its way): a temporary
      // directory left behind is not worth replacing that outcome, a bug is.
      if (!(err instanceof Error && 'code' in err)) throw err;
    });
  try {
    const args: string[] = [];
    for (const [i, file] of files.entries()) {
      if (typeof file === 'string') {
        args.push(file);
        continue;
      }
      // One directory per file: two uploads may share a name.
      const name = uploadName(file.filename);
      const source = path.join(dir, String(i), name);
      await fsp.mkdir(path.dirname(source));
      await fsp.writeFile(source, file.data);
      names.set(source, file.filename);
      args.push(source);
    }
    return { args, names, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** The base name of an uploaded file name (a browser may send a path), or `upload` when nothing usable is left. */
function uploadName(filename: string): string {
  const base = path.basename((typeof filename === 'string' ? filename : '').replace(/\\/g, '/'));
  return base === '' || base === '.' || base === '..' ? 'upload' : base;
}

/**
 * `uploadImage`'s answer from the one run `enqueueFiles` made of its file; `recordId` is empty
 * for a task whose `fromArgs` stores no record (the run is enqueued all the same).
 */
export function asUpload(runs: readonly EnqueuedFile[], taskName: string): { recordId: string; run: RunHandle } {
  const [first] = runs;
  if (!first) throw new UsageError(`task "${taskName}" made no run of the file`);
  return { recordId: first.recordId ?? '', run: first.run };
}
