import { HISTORY_SEARCH_SQL } from './search-schema.js';

/**
 * Versioned schema migrations, applied in order on open. `PRAGMA user_version` holds the
 * schema version. The `images` and `task_runs` column names are a public surface (users query
 * them with sqlite3): add columns, never rename.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'images, task_runs, meta',
    sql: `
      CREATE TABLE images (
        id TEXT PRIMARY KEY,
        original_path TEXT NOT NULL,
        resized_path TEXT,
        width INTEGER,
        height INTEGER,
        resized_width INTEGER,
        resized_height INTEGER,
        bytes INTEGER,
        resized_bytes INTEGER,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT,
        uploaded_at TEXT NOT NULL,
        processed_at TEXT
      );
      CREATE INDEX images_uploaded_at ON images (uploaded_at);

      CREATE TABLE task_runs (
        job_id TEXT PRIMARY KEY,
        task TEXT NOT NULL,
        queue TEXT NOT NULL,
        payload TEXT,
        state TEXT NOT NULL,
        result TEXT,
        error TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        worker TEXT,
        enqueued_at TEXT,
        started_at TEXT,
        finished_at TEXT,
        runtime_ms INTEGER,
        errors TEXT,
        stack TEXT,
        due_at TEXT,
        progress TEXT,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX task_runs_task ON task_runs (task, enqueued_at);
      CREATE INDEX task_runs_state ON task_runs (state, enqueued_at);
      CREATE INDEX task_runs_finished ON task_runs (finished_at);
      CREATE INDEX task_runs_enqueued ON task_runs (enqueued_at);

      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'task_runs.logs (the lines a run wrote with ctx.log)',
    sql: `ALTER TABLE task_runs ADD COLUMN logs TEXT;`,
  },
  {
    version: 3,
    description: 'task_runs.checked_at (when history last asked Redis about a run that stopped moving)',
    sql: `ALTER TABLE task_runs ADD COLUMN checked_at INTEGER;`,
  },
  {
    version: 4,
    description: 'task_runs.prefix and images.prefix (whose history and records a row is, when prefixes share a file)',
    // Rows from before this version were written by the recorder of the one stream the file
    // followed: when the file followed exactly one, they are that prefix's; otherwise the default's.
    sql: `
      ALTER TABLE task_runs ADD COLUMN prefix TEXT NOT NULL DEFAULT 'tq';
      ALTER TABLE images ADD COLUMN prefix TEXT NOT NULL DEFAULT 'tq';
      UPDATE task_runs SET prefix = (SELECT substr(key, 18) FROM meta WHERE key LIKE 'recorder_last_id:%')
        WHERE (SELECT count(*) FROM meta WHERE key LIKE 'recorder_last_id:%') = 1;
      UPDATE images SET prefix = (SELECT substr(key, 18) FROM meta WHERE key LIKE 'recorder_last_id:%')
        WHERE (SELECT count(*) FROM meta WHERE key LIKE 'recorder_last_id:%') = 1;
    `,
  },
  {
    version: 5,
    description:
      'history search: a full-text index and per (prefix, queue, task, state) counters, kept by triggers; indexes for filtered pages',
    sql: HISTORY_SEARCH_SQL,
  },
  {
    version: 6,
    description: 'audit (every action taken through tq web: who, role, action, target, query, result, time)',
    sql: `
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        query TEXT,
        result TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX audit_at ON audit (at);
    `,
  },
  {
    version: 7,
    description:
      'images.run_id, images.run_attempt (image records follow their runs on every host); task_runs.moved_at (event time of the last state move)',
    sql: `ALTER TABLE images ADD COLUMN run_id TEXT; ALTER TABLE images ADD COLUMN run_attempt INTEGER;
      ALTER TABLE task_runs ADD COLUMN moved_at INTEGER;`,
  },
];

/** The layout version of tq's data (SQLite schema and Redis keys). A newer tq can migrate it. */
export const LAYOUT_VERSION = 1;
