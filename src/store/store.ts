import type { RecordsStore } from '../core/records.js';
import { openDatabase, type OpenDatabaseOptions, type SqliteDatabase } from './database.js';
import { createImagesRepository } from './images.js';
import { createTaskRunsRepository, type TaskRunsRepository } from './task-runs.js';

/** One opened tq database file: the records handlers see, and the task history. */
export interface Store {
  readonly file: string;
  /** The prefix it is scoped to (undefined: unscoped). */
  readonly prefix: string | undefined;
  readonly db: SqliteDatabase;
  readonly records: RecordsStore;
  readonly runs: TaskRunsRepository;
  close(): void;
}

export interface OpenStoreOptions extends OpenDatabaseOptions {
  /**
   * The key prefix whose records and history this store reads and writes (several prefixes may
   * share one file). Records are written as `tq`'s and history is read unscoped without it:
   * every tq process passes its own.
   */
  prefix?: string;
}

export function openStore(file: string, options: OpenStoreOptions = {}): Store {
  const db = openDatabase(file, options);
  const images = createImagesRepository(db, options.prefix);
  const records: RecordsStore = {
    images,
    transaction: (fn) => db.transaction(fn).immediate(),
    query: (sql, ...params) => db.prepare(sql).all(...params) as never[],
    run: (sql, ...params) => db.prepare(sql).run(...params).changes,
  };
  let closed = false;
  return {
    file,
    prefix: options.prefix,
    db,
    records,
    runs: createTaskRunsRepository(db, options.prefix !== undefined ? { prefix: options.prefix } : {}),
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
