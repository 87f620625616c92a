import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { StoreError, errorMessage } from '../core/errors.js';
import { LAYOUT_VERSION, MIGRATIONS } from './migrations.js';

export type SqliteDatabase = Database.Database;

export interface OpenDatabaseOptions {
  /** How long a writer waits for a lock before SQLITE_BUSY, ms (default 10 s). */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/**
 * Opens (creating when absent) a tq SQLite file: WAL journal, a busy timeout, and every pending
 * migration applied in one immediate transaction, so two processes opening a new file at once
 * do not both migrate it.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let db: SqliteDatabase;
  try {
    db = new Database(file, { timeout: options.busyTimeoutMs ?? 10_000 });
    enableWal(db, options.busyTimeoutMs ?? 10_000);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    throw new StoreError(`cannot open the database ${file}: ${errorMessage(err)}`, {
      hint: 'check the path and permissions, or point --db / TQ_DB at another file',
      cause: err,
    });
  }
  try {
    migrate(db);
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError(`cannot use the database ${file}: ${errorMessage(err)}`, {
      hint: 'the file may be corrupt or not a tq database; move it away and tq will create a new one',
      cause: err,
    });
  }
  return db;
}

/**
 * Switches the file to WAL. Two processes opening a new file at once (two workers started
 * together) race for it: the switch needs an exclusive lock, and SQLite answers the loser
 * SQLITE_BUSY at once instead of waiting (waiting while holding its shared lock could deadlock),
 * so wait here, within the busy timeout.
 */
function enableWal(db: SqliteDatabase, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if (!String((err as { code?: string }).code).startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function migrate(db: SqliteDatabase): void {
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > latest) {
    throw new StoreError(`the database has schema version ${current}, newer than this tq understands (${latest})`, {
      hint: 'upgrade tq, or use another --db file',
    });
  }
  if (current === latest) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    // Re-read inside the lock: another process may have migrated meanwhile.
    const locked = db.pragma('user_version', { simple: true }) as number;
    for (const m of MIGRATIONS) {
      if (m.version <= locked) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
    db.prepare("INSERT INTO meta (key, value) VALUES ('layout_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(
      String(LAYOUT_VERSION),
    );
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

export function getMeta(db: SqliteDatabase, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function setMeta(db: SqliteDatabase, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
