import type { RecordsStore } from '../core/records.js';
import { openDatabase, type OpenDatabaseOptions, type SqliteDatabase } from './database.js';
import { createImagesRepository } from './images.js';
import { createTaskRunsRepository, type TaskRunsRepository } from './task-runs.js';

/** One opened tq database file: the records handlers see, and the task history. */
export interface Store {
  readonly file: string;
  readonly db: SqliteDatabase;
  readonly records: RecordsStore;
  readonly runs: TaskRunsRepository;
  close(): void;
}

export function openStore(file: string, options: OpenDatabaseOptions = {}): Store {
  const db = openDatabase(file, options);
  const images = createImagesRepository(db);
  const records: RecordsStore = {
    images,
    transaction: (fn) => db.transaction(fn).immediate(),
    query: (sql, ...params) => db.prepare(sql).all(...params) as never[],
    run: (sql, ...params) => db.prepare(sql).run(...params).changes,
  };
  let closed = false;
  return {
    file,
    db,
    records,
    runs: createTaskRunsRepository(db),
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
