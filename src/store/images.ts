import type { ImageRecord, ImagesRepository, NewImage } from '../core/records.js';
import type { SqliteDatabase } from './database.js';

const UPDATABLE = new Set([
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
]);

export function createImagesRepository(db: SqliteDatabase): ImagesRepository {
  const insertStmt = db.prepare(
    `INSERT INTO images (id, original_path, bytes, status, uploaded_at) VALUES (@id, @original_path, @bytes, 'pending', @uploaded_at)`,
  );
  const insertIgnoreStmt = db.prepare(
    `INSERT OR IGNORE INTO images (id, original_path, bytes, status, uploaded_at) VALUES (@id, @original_path, @bytes, 'pending', @uploaded_at)`,
  );
  const getStmt = db.prepare('SELECT * FROM images WHERE id = ?');
  const olderStmt = db.prepare('SELECT * FROM images WHERE uploaded_at < ? ORDER BY uploaded_at LIMIT ?');
  const deleteStmt = db.prepare('DELETE FROM images WHERE id = ?');
  const countStmt = db.prepare('SELECT count(*) AS n FROM images');
  const updateStmts = new Map<string, ReturnType<SqliteDatabase['prepare']>>();

  const row = (image: NewImage) => ({
    id: image.id,
    original_path: image.original_path,
    bytes: image.bytes,
    uploaded_at: image.uploaded_at ?? new Date().toISOString(),
  });

  return {
    insert(image) {
      insertStmt.run(row(image));
      return getStmt.get(image.id) as ImageRecord;
    },
    ensure(image) {
      insertIgnoreStmt.run(row(image));
      return getStmt.get(image.id) as ImageRecord;
    },
    get(id) {
      return getStmt.get(id) as ImageRecord | undefined;
    },
    update(id, fields) {
      const keys = Object.keys(fields).filter((k) => UPDATABLE.has(k));
      if (keys.length === 0) return;
      // One statement per set of columns, prepared once (a task updates the same few sets).
      const key = keys.join(',');
      let stmt = updateStmts.get(key);
      if (!stmt) {
        stmt = db.prepare(`UPDATE images SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`);
        if (updateStmts.size < 100) updateStmts.set(key, stmt);
      }
      stmt.run({ ...fields, id });
    },
    olderThan(isoTime, limit = 500) {
      return olderStmt.all(isoTime, limit) as ImageRecord[];
    },
    delete(id) {
      return deleteStmt.run(id).changes > 0;
    },
    count() {
      return (countStmt.get() as { n: number }).n;
    },
  };
}
