/**
 * A read-only view of a tq database for code outside tq's processes (the client in a web app):
 * image records and the run history, without taking any lock a worker's writes would wait for.
 * The file may not exist yet (no worker has run on this host): then every read is empty and the
 * next read looks again.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import type { ImageRecord, ImageStatus } from '../core/records.js';
import type { RunInfo } from '../core/run-info.js';
import { StoreError, errorMessage } from '../core/errors.js';
import type { SqliteDatabase } from './database.js';
import { HistoryQueries, type HistoryFilter } from './history.js';
import type { TaskRunRow } from './task-runs.js';

/** One run as history keeps it, JSON columns parsed (the `tq inspect task --json` shape). */
export type StoredRun = RunInfo;

/** Which image records `images` lists. */
export interface ImageFilter {
  status?: ImageStatus;
  /** Default 50. */
  limit?: number;
}

/** Reads records and history from one database file, read-only. */
export interface RecordsReader {
  image(id: string): ImageRecord | undefined;
  /** Newest upload first. */
  images(filter?: ImageFilter): ImageRecord[];
  run(id: string): StoredRun | undefined;
  /** The history filters of `tq inspect history`; newest first. */
  runs(filter?: HistoryFilter): StoredRun[];
  close(): void;
}

const parse = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));

/** A history row as a run (what `tq inspect task` shows of a run Redis no longer has). */
export function storedRunOf(row: TaskRunRow): StoredRun {
  return {
    id: row.job_id,
    task: row.task,
    queue: row.queue,
    state: row.state,
    payload: parse(row.payload),
    result: parse(row.result),
    error: row.error,
    attempt: row.attempt,
    progress: parse(row.progress),
    logs: (parse(row.logs) as string[] | null) ?? [],
    worker: row.worker,
    enqueuedAt: row.enqueued_at ?? row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    runtimeMs: row.runtime_ms,
  };
}

/**
 * Opens `file` read-only when it exists; reads before then are empty. With `prefix`, only that
 * prefix's records and runs are seen (several prefixes may share one file).
 */
export function openReader(file: string, prefix?: string): RecordsReader {
  const own = prefix === undefined ? { sql: '', params: [] as unknown[] } : { sql: ' AND prefix = ?', params: [prefix] as unknown[] };
  let db: SqliteDatabase | undefined;
  let history: HistoryQueries | undefined;
  const open = (): SqliteDatabase | undefined => {
    if (db) return db;
    if (!fs.existsSync(file)) return undefined;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
    } catch (err) {
      throw new StoreError(`cannot open the database ${file} to read: ${errorMessage(err)}`, {
        hint: 'check the path and permissions (the db option, TQ_DB or the db key of the config)',
        cause: err,
      });
    }
    history = new HistoryQueries(db, prefix);
    return db;
  };
  return {
    image(id) {
      return open()
        ?.prepare(`SELECT * FROM images WHERE id = ?${own.sql}`)
        .get(id, ...own.params) as ImageRecord | undefined;
    },
    images(filter = {}) {
      const d = open();
      if (!d) return [];
      const where = ` WHERE 1 = 1${filter.status ? ' AND status = ?' : ''}${own.sql}`;
      const params: unknown[] = [...(filter.status ? [filter.status] : []), ...own.params];
      return d
        .prepare(`SELECT * FROM images${where} ORDER BY uploaded_at DESC, id DESC LIMIT ?`)
        .all(...params, filter.limit ?? 50) as ImageRecord[];
    },
    run(id) {
      if (!open()) return undefined;
      const row = history!.get(id);
      return row && storedRunOf(row);
    },
    runs(filter = {}) {
      if (!open()) return [];
      return history!.list(filter).map(storedRunOf);
    },
    close() {
      db?.close();
      db = undefined;
    },
  };
}
