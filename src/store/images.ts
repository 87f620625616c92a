import type { ImageRecord, ImagesRepository, NewImage } from '../core/records.js';
import type { SqliteDatabase } from './database.js';

/** The columns of an image record a caller may set (besides `id`, and tq's own `prefix`, `run_id`, `run_attempt`). */
export const IMAGE_RECORD_COLUMNS = [
  'original_path',
  'resized_path',
  'width',
  'height',
  'resized_width',
  'resized_height',
  'bytes',
  'resized_bytes',
  'status',
  'error',
  'uploaded_at',
  'processed_at',
] as const;

const UPDATABLE: ReadonlySet<string> = new Set(IMAGE_RECORD_COLUMNS);

/**
 * The `images` records of one key prefix: records are written with it, and read, listed,
 * counted and deleted only among its own rows, so two prefixes sharing a file (and their
 * `cleanup` tasks) never see each other's. Without a prefix, records are written as `tq`'s and
 * every row is seen.
 */
export function createImagesRepository(db: SqliteDatabase, scope?: string): ImagesRepository {
  const prefix = scope ?? 'tq';
  // `@scope` null: unscoped.
  const own = 'AND (@scope IS NULL OR prefix = @scope)';
  const insertStmt = db.prepare(
    `INSERT INTO images (id, original_path, bytes, status, uploaded_at, prefix) VALUES (@id, @original_path, @bytes, 'pending', @uploaded_at, @prefix)`,
  );
  const insertIgnoreStmt = db.prepare(
    `INSERT OR IGNORE INTO images (id, original_path, bytes, status, uploaded_at, prefix) VALUES (@id, @original_path, @bytes, 'pending', @uploaded_at, @prefix)`,
  );
  const getStmt = db.prepare(`SELECT * FROM images WHERE id = @id ${own}`);
  const olderStmt = db.prepare(`SELECT * FROM images WHERE uploaded_at < @before ${own} ORDER BY uploaded_at LIMIT @limit`);
  const deleteStmt = db.prepare(`DELETE FROM images WHERE id = @id ${own}`);
  const countStmt = db.prepare('SELECT count(*) AS n FROM images WHERE @scope IS NULL OR prefix = @scope');
  const scoped = scope ?? null;
  const updateStmts = new Map<string, ReturnType<SqliteDatabase['prepare']>>();

  const row = (image: NewImage) => ({
    id: image.id,
    original_path: image.original_path,
    bytes: image.bytes,
    uploaded_at: image.uploaded_at ?? new Date().toISOString(),
    prefix,
  });

  return {
    insert(image) {
      insertStmt.run(row(image));
      return getStmt.get({ id: image.id, scope: scoped }) as ImageRecord;
    },
    ensure(image) {
      insertIgnoreStmt.run(row(image));
      return getStmt.get({ id: image.id, scope: scoped }) as ImageRecord;
    },
    get(id) {
      return getStmt.get({ id, scope: scoped }) as ImageRecord | undefined;
    },
    update(id, fields) {
      const keys = Object.keys(fields).filter((k) => UPDATABLE.has(k));
      if (keys.length === 0) return;
      // One statement per set of columns, prepared once (a task updates the same few sets).
      const key = keys.join(',');
      let stmt = updateStmts.get(key);
      if (!stmt) {
        stmt = db.prepare(
          `UPDATE images SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id AND (@scope IS NULL OR prefix = @scope)`,
        );
        if (updateStmts.size < 100) updateStmts.set(key, stmt);
      }
      stmt.run({ ...fields, id, scope: scoped });
    },
    olderThan(isoTime, limit = 500) {
      return olderStmt.all({ before: isoTime, scope: scoped, limit }) as ImageRecord[];
    },
    delete(id) {
      return deleteStmt.run({ id, scope: scoped }).changes > 0;
    },
    count() {
      return (countStmt.get({ scope: scoped }) as { n: number }).n;
    },
  };
}
