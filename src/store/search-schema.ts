/**
 * The schema behind history search (migration 5), kept apart because the trigger bodies and
 * the backfill must index exactly the same text.
 *
 * - `task_runs_fts`: an FTS5 index of each run's task, id, payload (stored redacted already),
 *   result, error (the last one and every attempt's) and logs. Contentless (the text lives in
 *   `task_runs`; no second copy) with `contentless_delete` so a row can be dropped by rowid.
 *   Its rowid is the `task_runs` rowid.
 * - `task_run_counts`: how many runs each (queue, task, state) has, so counts by state, task
 *   or queue read a few dozen rows instead of scanning the table.
 *
 * Both are kept by triggers on `task_runs`, so they change in the same transaction as the row,
 * whoever writes it (the recorder, the reconciler, pruning, or a user with sqlite3).
 */

/**
 * JSON text as words: the escapes `\n`, `\r`, `\t` would otherwise glue their letter to the next
 * word (`a\nb` read as `a` and `nb`). Punctuation needs nothing: the tokenizer splits on it.
 */
const jsonWords = (column: string) => `replace(replace(replace(${column}, '\\n', ' '), '\\r', ' '), '\\t', ' ')`;

/** The indexed text of a row (`r` is `new`, `old` or the table itself). */
function ftsValues(r: string): string {
  // Earlier attempts' errors are in `errors` (JSON): only their messages are indexed, so
  // `error:attempt` does not find every run that failed once.
  const attemptErrors = `CASE WHEN json_valid(${r}.errors) THEN (SELECT group_concat(e.value ->> 'error', ' ') FROM json_each(${r}.errors) e WHERE (e.value ->> 'error') IS NOT ${r}.error) END`;
  return [
    `${r}.rowid`,
    `${r}.task`,
    `${r}.job_id`,
    jsonWords(`${r}.payload`),
    jsonWords(`${r}.result`),
    `concat_ws(' ', ${r}.error, ${attemptErrors})`,
    jsonWords(`${r}.logs`),
  ].join(', ');
}

/** The columns of `task_runs_fts`, in order. `error:` searches `error` only. */
export const FTS_COLUMNS = ['task', 'job_id', 'payload', 'result', 'error', 'logs'] as const;

const FTS_INSERT = (r: string) => `INSERT INTO task_runs_fts (rowid, ${FTS_COLUMNS.join(', ')}) VALUES (${ftsValues(r)});`;
const COUNT_UP = (r: string) =>
  `INSERT INTO task_run_counts (queue, task, state, n) VALUES (${r}.queue, ${r}.task, ${r}.state, 1) ON CONFLICT (queue, task, state) DO UPDATE SET n = n + 1;`;
const COUNT_DOWN = (r: string) =>
  `UPDATE task_run_counts SET n = n - 1 WHERE queue = ${r}.queue AND task = ${r}.task AND state = ${r}.state;`;

/** Triggers that keep the index and the counters; also used by the bench to measure their cost. */
export const SEARCH_TRIGGERS_SQL = `
  CREATE TRIGGER task_runs_search_insert AFTER INSERT ON task_runs BEGIN
    ${FTS_INSERT('new')}
    ${COUNT_UP('new')}
  END;
  CREATE TRIGGER task_runs_search_delete AFTER DELETE ON task_runs BEGIN
    DELETE FROM task_runs_fts WHERE rowid = old.rowid;
    ${COUNT_DOWN('old')}
  END;
  CREATE TRIGGER task_runs_search_text AFTER UPDATE OF task, payload, result, error, errors, logs ON task_runs
  WHEN old.task IS NOT new.task OR old.payload IS NOT new.payload OR old.result IS NOT new.result
    OR old.error IS NOT new.error OR old.errors IS NOT new.errors OR old.logs IS NOT new.logs
  BEGIN
    DELETE FROM task_runs_fts WHERE rowid = old.rowid;
    ${FTS_INSERT('new')}
  END;
  CREATE TRIGGER task_runs_search_counts AFTER UPDATE OF queue, task, state ON task_runs
  WHEN old.queue IS NOT new.queue OR old.task IS NOT new.task OR old.state IS NOT new.state
  BEGIN
    ${COUNT_DOWN('old')}
    ${COUNT_UP('new')}
  END;
`;

export const SEARCH_TRIGGER_NAMES = [
  'task_runs_search_insert',
  'task_runs_search_delete',
  'task_runs_search_text',
  'task_runs_search_counts',
];

export const HISTORY_SEARCH_SQL = `
  CREATE VIRTUAL TABLE task_runs_fts USING fts5(
    ${FTS_COLUMNS.join(', ')},
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  CREATE TABLE task_run_counts (
    queue TEXT NOT NULL,
    task TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (queue, task, state)
  ) WITHOUT ROWID;
  INSERT INTO task_runs_fts (rowid, ${FTS_COLUMNS.join(', ')}) SELECT ${ftsValues('task_runs')} FROM task_runs;
  INSERT INTO task_run_counts (queue, task, state, n) SELECT queue, task, state, count(*) FROM task_runs GROUP BY queue, task, state;
  ${SEARCH_TRIGGERS_SQL}
  CREATE INDEX task_runs_queue ON task_runs (queue, enqueued_at);
  CREATE INDEX task_runs_runtime ON task_runs (runtime_ms);
`;
