import type Database from 'better-sqlite3';
import type { ImageStatus } from '../core/records.js';
import type { TaskState } from '../core/states.js';
import type { SqliteDatabase } from './database.js';
import { setMeta } from './meta.js';

/**
 * The `images` table as a projection of run events, like `task_runs`: every host's recorder
 * applies the same runs, so every host's file has every image record in the same state. The
 * upload host's record (`pending`) follows the run to `processed` once any worker host made the
 * thumbnail; a worker host's handler writes its own record as it works (ahead of the events),
 * and the projection never moves a record backwards within an attempt.
 *
 * Which runs: a run whose payload is `{ imageId, original }` (what `resizeImage()` takes) keeps
 * the record `imageId`; a completed run whose result is `{ deleted, filesRemoved, olderThan,
 * cutoff }` (what `cleanupImages()` returns) deletes, on every host, the records uploaded before
 * `cutoff` (the files went once, from the shared media directory, on the host that ran it),
 * except those it names in `kept` (their files could not be removed: the next cleanup retries).
 */
export interface ProjectedRun {
  job_id: string;
  state: TaskState;
  attempt: number;
  payload: string | null;
  result: string | null;
  error: string | null;
  enqueued_at: string | null;
  finished_at: string | null;
}

/** Meta key: the newest cutoff a cleanup applied (history sync does not bring back older records). */
export const CLEANUP_CUTOFF = 'images_cleanup_cutoff';

const RANK: Record<ImageStatus, number> = { pending: 0, processing: 1, processed: 2, failed: 2 };

function statusOf(state: TaskState): ImageStatus {
  switch (state) {
    case 'waiting':
    case 'delayed':
    case 'retrying':
      return 'pending';
    case 'active':
      return 'processing';
    case 'completed':
      return 'processed';
    default:
      return 'failed';
  }
}

function parse(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A media-relative path a record may name (the handler refuses others, and so does this). */
function insideMedia(p: string): boolean {
  return p.length > 0 && !p.startsWith('/') && !p.split(/[\\/]/).includes('..');
}

interface ImageRow {
  status: ImageStatus;
  run_attempt: number | null;
}

type Statement = Database.Statement<unknown[], unknown>;

export interface ImageProjection {
  /** Applies a run row just written (`statusChanged`: its state or attempt moved). */
  apply(run: ProjectedRun, statusChanged: boolean): void;
}

/** `prefix`: whose records these are (rows of other prefixes sharing the file are never touched). */
export function createImageProjection(db: SqliteDatabase, prefix = 'tq'): ImageProjection {
  let stmts: { get: Statement; insert: Statement; adopt: Statement; move: Statement; done: Statement; clean: Statement } | undefined;
  // Prepared on first use: a file that never sees an image run pays nothing.
  const prepared = () =>
    (stmts ??= {
      get: db.prepare('SELECT status, run_attempt FROM images WHERE id = ? AND prefix = ?'),
      insert: db.prepare(
        `INSERT OR IGNORE INTO images (id, original_path, status, uploaded_at, run_id, run_attempt, prefix) VALUES (?, ?, 'pending', ?, ?, ?, ?)`,
      ),
      adopt: db.prepare('UPDATE images SET uploaded_at = ? WHERE id = ? AND run_id IS NULL AND prefix = ?'),
      move: db.prepare('UPDATE images SET status = ?, error = ?, run_id = ?, run_attempt = ? WHERE id = ? AND prefix = ?'),
      done: db.prepare(
        `UPDATE images SET status = 'processed', error = NULL, resized_path = ?, width = ?, height = ?, resized_width = ?,
           resized_height = ?, bytes = COALESCE(?, bytes), resized_bytes = ?, processed_at = COALESCE(?, processed_at),
           run_id = ?, run_attempt = ? WHERE id = ? AND prefix = ?`,
      ),
      clean: db.prepare('DELETE FROM images WHERE uploaded_at < ? AND id NOT IN (SELECT value FROM json_each(?)) AND prefix = ?'),
    });

  return {
    apply(run, statusChanged) {
      if (!statusChanged) return;
      const payload = parse(run.payload);
      if (isObject(payload) && typeof payload.imageId === 'string' && typeof payload.original === 'string') {
        projectImage(prepared(), run, payload.imageId, payload.original, prefix);
        return;
      }
      if (run.state === 'completed') {
        const result = parse(run.result);
        if (
          isObject(result) &&
          typeof result.cutoff === 'string' &&
          typeof result.deleted === 'number' &&
          typeof result.filesRemoved === 'number' &&
          'olderThan' in result
        ) {
          const kept = Array.isArray(result.kept) ? result.kept.filter((k) => typeof k === 'string') : [];
          prepared().clean.run(result.cutoff, JSON.stringify(kept), prefix);
          setMeta(db, CLEANUP_CUTOFF, result.cutoff);
        }
      }
    },
  };
}

function projectImage(
  s: { get: Statement; insert: Statement; adopt: Statement; move: Statement; done: Statement },
  run: ProjectedRun,
  id: string,
  original: string,
  prefix: string,
): void {
  if (!insideMedia(original)) return;
  const uploadedAt = run.enqueued_at ?? new Date().toISOString();
  // A record this host stored at upload takes the run's enqueue time (the Redis server's clock),
  // as every other host's does: every file holds the same row.
  if (s.insert.run(id, original, uploadedAt, run.job_id, run.attempt, prefix).changes === 0 && run.enqueued_at)
    s.adopt.run(run.enqueued_at, id, prefix);
  const image = s.get.get(id, prefix) as ImageRow | undefined;
  if (!image) return;
  const status = statusOf(run.state);
  // Never backwards within an attempt (the worker host's handler is ahead of the events); a
  // later attempt (a retry) moves it whatever it said.
  const attempt = image.run_attempt ?? run.attempt;
  if (run.attempt < attempt || (run.attempt === attempt && RANK[status] < RANK[image.status])) return;
  if (status === 'processed') {
    const r = parse(run.result);
    const result = isObject(r) ? r : {};
    s.done.run(
      typeof result.resized === 'string' ? result.resized : null,
      num(result.width),
      num(result.height),
      num(result.resizedWidth),
      num(result.resizedHeight),
      num(result.bytes),
      num(result.resizedBytes),
      run.finished_at,
      run.job_id,
      run.attempt,
      id,
      prefix,
    );
    return;
  }
  s.move.run(status, status === 'failed' || status === 'pending' ? run.error : null, run.job_id, run.attempt, id, prefix);
}
