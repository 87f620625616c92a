/**
 * The client's read APIs: image records, the run history and media paths, from the database
 * file opened read-only (the application needs no SQLite module of its own).
 */
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import type { ImageRecord } from '../core/records.js';
import { isTaskState, TASK_STATES } from '../core/states.js';
import type { HistoryFilter } from '../store/index.js';
import { resolveInMedia } from '../tasks/media-paths.js';
import type { ClientImage, HistoryQuery, MediaFiles } from './types.js';

/** `query` as the history filter `tq inspect history` builds from its flags, checked the same way. */
export function historyFilter(query: HistoryQuery, now = Date.now()): HistoryFilter {
  if (query.state !== undefined && !isTaskState(query.state)) {
    throw new UsageError(`state "${String(query.state)}" is not a state (one of ${TASK_STATES.join(', ')})`);
  }
  const limit = query.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new UsageError(`limit must be an integer from 1 to 10000 (got ${limit})`);
  const since =
    query.since === undefined
      ? undefined
      : query.since instanceof Date
        ? query.since.toISOString()
        : new Date(now - parseDuration(query.since, 'since')).toISOString();
  return {
    ...(query.state ? { state: query.state } : {}),
    ...(query.task ? { task: query.task } : {}),
    ...(query.queue ? { queue: query.queue } : {}),
    ...(since ? { since } : {}),
    ...(query.text ? { search: query.text } : {}),
    limit,
  };
}

/** A media-relative path as an absolute one inside `media`; a path that would leave it is refused. */
export function mediaPath(media: string, relative: string): string {
  const full = resolveInMedia(media, relative);
  if (full === undefined) throw new UsageError(`"${relative}" is not a path inside the media directory`);
  return full;
}

/** An image record with its files' absolute paths. */
export function clientImage(media: string, record: ImageRecord): ClientImage {
  return {
    ...record,
    originalFile: mediaPath(media, record.original_path),
    resizedFile: record.resized_path === null ? null : mediaPath(media, record.resized_path),
  };
}

/** `MediaFiles` over a media directory known once the config is. */
export function mediaFiles(dir: () => Promise<string>): MediaFiles {
  return { dir, path: async (relative) => mediaPath(await dir(), relative) };
}
