import type Database from 'better-sqlite3';

/**
 * The schema behind history search (migration 5), kept apart because the triggers, the
 * backfill and the index's catch-up must index exactly the same text.
 *
 * - `task_runs_fts`: an FTS5 index of each run's task, id, payload (stored redacted already),
 *   result, error (the last one and every attempt's) and logs. Contentless (the text lives in
 *   `task_runs`; no second copy) with `contentless_delete`, so a document can be replaced or
 *   dropped by rowid. Two documents per run (see ASKED and OUTCOME below).
 * - `task_run_counts`: how many runs each (prefix, queue, task, state) has, so counts by state, task
 *   or queue read a few dozen rows instead of scanning the table. Kept by triggers.
 * - `task_runs_search_queue`: rowids whose text changed and is not indexed yet. Triggers fill it
 *   (whoever writes the row: the recorder, the reconciler, a user with sqlite3) and
 *   `indexQueuedRuns` empties it into the index in one statement, which the history repository
 *   runs at the end of every batch it applies, inside the batch's transaction. Why not index
 *   from the trigger itself: FTS5 writes its pending terms to disk at every statement boundary
 *   inside a transaction, so one index write per row statement made a segment per row and cost
 *   the recorder three quarters of its speed; one statement per batch makes one segment.
 */
/**
 * JSON text as words: the escapes `\n`, `\r`, `\t` would otherwise glue their letter to the next
 * word (`a\nb` read as `a` and `nb`). Punctuation needs nothing: the tokenizer splits on it.
 */
const jsonWords = (column: string) => `replace(replace(replace(${column}, '\\n', ' '), '\\r', ' '), '\\t', ' ')`;

/** The columns of `task_runs_fts`, in order. `error:` searches `error` only. */
export const FTS_COLUMNS = ['task', 'job_id', 'payload', 'result', 'error', 'logs'] as const;

/**
 * Each run is two documents of the index: what it was asked (task, id, payload: written once,
 * when the run is first stored) at rowid `2 * rowid`, and what became of it (result, errors,
 * logs) at `2 * rowid + 1`, written when those change and only when there is text. A run's end
 * then indexes only its outcome instead of its whole text a second time. A run matches a word
 * found in either document (the search intersects per word).
 */
const ASKED = (r: string) => [`${r}.task`, `${r}.job_id`, jsonWords(`${r}.payload`), 'NULL', 'NULL', 'NULL'];
const OUTCOME = (r: string) => {
  // Earlier attempts' errors are in `errors` (JSON): only their messages are indexed, so
  // `error:attempt` does not find every run that failed once.
  const attemptErrors = `CASE WHEN json_valid(${r}.errors) THEN (SELECT group_concat(e.value ->> 'error', ' ') FROM json_each(${r}.errors) e WHERE (e.value ->> 'error') IS NOT ${r}.error) END`;
  return [
    'NULL',
    'NULL',
    'NULL',
    jsonWords(`nullif(${r}.result, 'null')`),
    `concat_ws(' ', ${r}.error, ${attemptErrors})`,
    jsonWords(`${r}.logs`),
  ];
};
/** Whether a row has an outcome worth indexing (a no-op's `null` result is not). */
const HAS_OUTCOME = (r: string) =>
  `(nullif(${r}.result, 'null') IS NOT NULL OR ${r}.error IS NOT NULL OR ${r}.errors IS NOT NULL OR ${r}.logs IS NOT NULL)`;

const COUNT_UP = (r: string) =>
  `INSERT INTO task_run_counts (prefix, queue, task, state, n) VALUES (${r}.prefix, ${r}.queue, ${r}.task, ${r}.state, 1) ON CONFLICT (prefix, queue, task, state) DO UPDATE SET n = n + 1;`;
const COUNT_DOWN = (r: string) =>
  `UPDATE task_run_counts SET n = n - 1 WHERE prefix = ${r}.prefix AND queue = ${r}.queue AND task = ${r}.task AND state = ${r}.state;`;
const QUEUE = (doc: string) => `INSERT OR IGNORE INTO task_runs_search_queue (id) VALUES (${doc});`;

/** Triggers that keep the counters and queue text changes for the index (see above). */
export const SEARCH_TRIGGERS_SQL = `
  CREATE TRIGGER task_runs_search_insert AFTER INSERT ON task_runs BEGIN
    ${QUEUE('new.rowid * 2')}
    INSERT OR IGNORE INTO task_runs_search_queue (id) SELECT new.rowid * 2 + 1 WHERE ${HAS_OUTCOME('new')};
    ${COUNT_UP('new')}
  END;
  CREATE TRIGGER task_runs_search_delete AFTER DELETE ON task_runs BEGIN
    DELETE FROM task_runs_fts WHERE rowid = old.rowid * 2;
    DELETE FROM task_runs_fts WHERE rowid = old.rowid * 2 + 1;
    DELETE FROM task_runs_search_queue WHERE id IN (old.rowid * 2, old.rowid * 2 + 1);
    ${COUNT_DOWN('old')}
  END;
  CREATE TRIGGER task_runs_search_asked AFTER UPDATE OF task, job_id, payload ON task_runs
  WHEN old.task IS NOT new.task OR old.job_id IS NOT new.job_id OR old.payload IS NOT new.payload
  BEGIN
    ${QUEUE('new.rowid * 2')}
  END;
  CREATE TRIGGER task_runs_search_outcome AFTER UPDATE OF result, error, errors, logs ON task_runs
  WHEN old.result IS NOT new.result OR old.error IS NOT new.error OR old.errors IS NOT new.errors OR old.logs IS NOT new.logs
  BEGIN
    ${QUEUE('new.rowid * 2 + 1')}
  END;
  CREATE TRIGGER task_runs_search_counts AFTER UPDATE OF prefix, queue, task, state ON task_runs
  WHEN old.prefix IS NOT new.prefix OR old.queue IS NOT new.queue OR old.task IS NOT new.task OR old.state IS NOT new.state
  BEGIN
    ${COUNT_DOWN('old')}
    ${COUNT_UP('new')}
  END;
`;

export const SEARCH_TRIGGER_NAMES = [
  'task_runs_search_insert',
  'task_runs_search_delete',
  'task_runs_search_asked',
  'task_runs_search_outcome',
  'task_runs_search_counts',
];

/** Both documents' text for `r`, chosen by the document id `doc` (even: asked, odd: outcome). */
const DOC_VALUES = (doc: string, r: string) => {
  const asked = ASKED(r);
  const outcome = OUTCOME(r);
  const columns = asked.map((a, i) =>
    a === 'NULL' ? `CASE WHEN ${doc} % 2 = 1 THEN ${outcome[i]!} END` : `CASE WHEN ${doc} % 2 = 0 THEN ${a} END`,
  );
  return [doc, ...columns].join(', ');
};

/** Indexes the queued rows (replacing what the index had of them) and empties the queue. */
const INDEX_QUEUED_SQL = [
  `INSERT OR REPLACE INTO task_runs_fts (rowid, ${FTS_COLUMNS.join(', ')})
     SELECT ${DOC_VALUES('q.id', 'r')} FROM task_runs_search_queue q JOIN task_runs r ON r.rowid = q.id >> 1`,
  'DELETE FROM task_runs_search_queue',
];

const prepared = new WeakMap<Database.Database, { has: Database.Statement<[]>; run: Database.Statement<[]>[] }>();

/**
 * Brings the search index up to date with the rows whose text changed (see the queue above).
 * Call inside the transaction that changed them, so readers see rows and index together.
 */
export function indexQueuedRuns(db: Database.Database): void {
  let stmts = prepared.get(db);
  if (!stmts) {
    stmts = {
      has: db.prepare<[]>('SELECT 1 FROM task_runs_search_queue LIMIT 1'),
      run: INDEX_QUEUED_SQL.map((sql) => db.prepare<[]>(sql)),
    };
    prepared.set(db, stmts);
  }
  if (stmts.has.get() === undefined) return;
  for (const stmt of stmts.run) stmt.run();
}

export const HISTORY_SEARCH_SQL = `
  CREATE VIRTUAL TABLE task_runs_fts USING fts5(
    ${FTS_COLUMNS.join(', ')},
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  CREATE TABLE task_run_counts (
    prefix TEXT NOT NULL,
    queue TEXT NOT NULL,
    task TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (prefix, queue, task, state)
  ) WITHOUT ROWID;
  CREATE TABLE task_runs_search_queue (id INTEGER PRIMARY KEY);
  -- A segment whose rows were mostly deleted is not rewritten at once by the delete that tips
  -- it (that rewrite holds the write lock for as long as the segment is big): pruning stays a
  -- series of short writes, and the space comes back as segments merge with newer ones.
  INSERT INTO task_runs_fts (task_runs_fts, rank) VALUES ('deletemerge', 0);
  INSERT INTO task_runs_fts (rowid, ${FTS_COLUMNS.join(', ')}) SELECT r.rowid * 2, ${ASKED('r').join(', ')} FROM task_runs r;
  INSERT INTO task_runs_fts (rowid, ${FTS_COLUMNS.join(', ')}) SELECT r.rowid * 2 + 1, ${OUTCOME('r').join(', ')} FROM task_runs r WHERE ${HAS_OUTCOME('r')};
  INSERT INTO task_run_counts (prefix, queue, task, state, n) SELECT prefix, queue, task, state, count(*) FROM task_runs GROUP BY prefix, queue, task, state;
  ${SEARCH_TRIGGERS_SQL}
  CREATE INDEX task_runs_queue ON task_runs (queue, enqueued_at);
  CREATE INDEX task_runs_runtime ON task_runs (runtime_ms);
`;
