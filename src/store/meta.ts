import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

/** Meta key the recorder watches: rows were changed behind its back (what it remembers is stale). */
export const ROWS_EPOCH = 'history_rows_epoch';

/** The `meta` table: the recorder's positions, counters and lease, one value per key. */
export type Statement = Database.Statement<unknown[], unknown>;
const metaStatements = new WeakMap<SqliteDatabase, { get: Statement; set: Statement }>();

/** `meta` reads and writes with their statements prepared once per database (several per batch). */
function metaOf(db: SqliteDatabase): { get: Statement; set: Statement } {
  let stmts = metaStatements.get(db);
  if (!stmts) {
    stmts = {
      get: db.prepare('SELECT value FROM meta WHERE key = ?'),
      set: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
    metaStatements.set(db, stmts);
  }
  return stmts;
}

export function getMeta(db: SqliteDatabase, key: string): string | undefined {
  return (metaOf(db).get.get(key) as { value: string } | undefined)?.value;
}

export function setMeta(db: SqliteDatabase, key: string, value: string): void {
  metaOf(db).set.run(key, value);
}

/** The id just before `id` (so that reading "after" it includes `id`). */
export function firstBefore(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  if (seq !== '0') return `${ms}-${BigInt(seq) - 1n}`;
  const m = BigInt(ms);
  return m === 0n ? '0-0' : `${m - 1n}-18446744073709551615`;
}
