/**
 * The `cleanup` task: deletes old image records together with their original and thumbnail.
 */
import { promises as fsp } from 'node:fs';
import type { ImageRecord } from '../core/records.js';
import type { TaskContext, TaskDefinition, TaskOptions } from '../core/task.js';
import { ConfigError, FatalTaskError, errorMessage } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { errCode, resolveInMedia } from './media-paths.js';

export interface CleanupPayload {
  /** Overrides the task's `olderThan` for this run (`7d`, `12h`, or milliseconds). */
  olderThan?: string | number;
}

export interface CleanupResult {
  /** Image records deleted. */
  deleted: number;
  /** Files (originals and thumbnails) removed. */
  filesRemoved: number;
  /** The age limit used, as given (`30d`). */
  olderThan: string;
  /** Records uploaded before this time were deleted (ISO). */
  cutoff: string;
}

export type CleanupOptions = TaskOptions & {
  /** Age of the records to delete: a duration (`30d`) or milliseconds; default `30d`. */
  olderThan?: string | number;
};

export const CLEANUP_DEFAULT_OLDER_THAN = '30d';
/** Records fetched (and deleted) per batch. */
export const CLEANUP_BATCH = 500;

export function cleanupImages(options: CleanupOptions = {}): TaskDefinition<CleanupPayload | undefined, CleanupResult> {
  const { olderThan = CLEANUP_DEFAULT_OLDER_THAN, ...taskOptions } = options;
  try {
    parseDuration(olderThan, 'cleanupImages({ olderThan })');
  } catch (err) {
    throw new ConfigError(errorMessage(err), [errorMessage(err)]);
  }
  return {
    args: ['olderThan?'],
    ...taskOptions,
    queue: options.queue ?? 'default',
    description: options.description ?? `Delete image records older than ${String(olderThan)} with their files`,
    run: (payload: CleanupPayload | undefined, ctx: TaskContext) => runCleanup(payload?.olderThan ?? olderThan, ctx),
  };
}

async function runCleanup(olderThan: string | number, ctx: TaskContext): Promise<CleanupResult> {
  let ageMs: number;
  try {
    ageMs = parseDuration(olderThan, 'olderThan');
  } catch (err) {
    throw new FatalTaskError(errorMessage(err), { cause: err });
  }
  const cutoff = new Date(Date.now() - ageMs).toISOString();
  const label = typeof olderThan === 'number' ? `${olderThan}ms` : olderThan;
  const images = ctx.db.images;

  let deleted = 0;
  let filesRemoved = 0;
  const tried = new Set<string>();
  for (;;) {
    ctx.signal.throwIfAborted();
    const batch = images.olderThan(cutoff, CLEANUP_BATCH).filter((r) => !tried.has(r.id));
    // A record that could not be deleted would come back in every batch: stop instead of looping.
    if (batch.length === 0) break;
    for (const record of batch) {
      tried.add(record.id);
      // Files first: if this fails, the record stays and the next run tries again.
      filesRemoved += await removeFiles(record, ctx);
      if (images.delete(record.id)) deleted++;
    }
    await ctx.progress({ deleted, filesRemoved });
  }
  await ctx.log(`deleted ${deleted} image record(s) uploaded before ${cutoff}, ${filesRemoved} file(s)`);
  return { deleted, filesRemoved, olderThan: label, cutoff };
}

async function removeFiles(record: ImageRecord, ctx: TaskContext): Promise<number> {
  let removed = 0;
  for (const relative of [record.original_path, record.resized_path]) {
    if (!relative) continue;
    const file = resolveInMedia(ctx.media, relative);
    if (file === undefined) {
      ctx.logger.warn(`image ${record.id}: not removing "${relative}", it is outside the media directory`);
      continue;
    }
    try {
      await fsp.unlink(file);
      removed++;
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
    }
  }
  return removed;
}
