import fs from 'node:fs';
import Database from 'better-sqlite3';
import { StoreError, UsageError, errorMessage } from '../core/errors.js';
import { FINAL_STATES, supersedes, type TaskState } from '../core/states.js';
import type { SqliteDatabase } from './database.js';
import { CLEANUP_CUTOFF } from './image-projection.js';
import { IMAGE_RECORD_COLUMNS } from './images.js';
import { getMeta, ROWS_EPOCH, setMeta } from './meta.js';
import { MIGRATIONS } from './migrations.js';
import { RUN_FACT_COLUMNS, type TaskRunRow } from './run-row.js';

/**
 * `tq history sync --from OTHER.db`: fills this host's history from another host's file, for a
 * host that was offline longer than the run-event stream keeps (its recorder said how many
 * events it missed). Row by row, with the recorder's rule: a run missing here is copied; a run
 * the other file knows further along (a later attempt, or a later state of the same attempt)
 * takes the other's row; facts missing here (payload, enqueue time, worker, ...) are filled in;
 * nothing ever moves backwards. So running it twice changes nothing the second time. Image
 * records follow the same rule (by attempt and status); records older than the newest cleanup
 * this file applied are not brought back.
 */
export interface SyncReport {
  runs: { inserted: number; updated: number; filled: number; unchanged: number };
  images: { inserted: number; updated: number; unchanged: number };
}

const CHUNK = 1000;
/** Columns copied from the other file's `task_runs` (the ones every tq version has written). */
const RUN_COLUMNS = RUN_FACT_COLUMNS;
/** Facts a row here may lack while the other file has them (same state and attempt). */
const FACTS = [
  'payload',
  'enqueued_at',
  'worker',
  'started_at',
  'finished_at',
  'runtime_ms',
  'result',
  'progress',
  'stack',
  'logs',
] as const;
const IMAGE_COLUMNS = [...IMAGE_RECORD_COLUMNS, 'run_id', 'run_attempt'] as const;
const IMAGE_RANK: Record<string, number> = { pending: 0, processing: 1, processed: 2, failed: 2 };

type Row = Record<string, unknown>;

/** Whether the other file's run is further along than this one's. */
function ahead(here: TaskRunRow, there: TaskRunRow): boolean {
  if (there.attempt !== here.attempt) {
    // A later attempt after an end is a retry (the recorder reopens the row the same way).
    return there.attempt > here.attempt;
  }
  if (there.state === here.state) return false;
  // `lost` gives way to any real end; a real end never gives way to it.
  if (here.state === 'lost') return FINAL_STATES.has(there.state);
  if (there.state === 'lost') return false;
  return supersedes({ state: here.state, attempt: here.attempt }, { state: there.state as TaskState, attempt: there.attempt });
}

function openOther(file: string, here: SqliteDatabase): Database.Database {
  if (!fs.existsSync(file))
    throw new UsageError(`no such file: ${file}`, { hint: "give the path of another host's tq database (a copy is fine)" });
  if (fs.realpathSync(file) === fs.realpathSync(here.name)) {
    throw new UsageError(`${file} is this host's own database`, { hint: "give another host's file (copied here)" });
  }
  let other: Database.Database;
  try {
    other = new Database(file, { readonly: true, fileMustExist: true });
    other.prepare('SELECT job_id FROM task_runs LIMIT 1').get();
  } catch (err) {
    throw new StoreError(`cannot read ${file} as a tq database: ${errorMessage(err)}`, {
      hint: "give another host's tq database file",
      cause: err,
    });
  }
  const theirs = other.pragma('user_version', { simple: true }) as number;
  const ours = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (theirs > ours) {
    other.close();
    throw new StoreError(`${file} has schema version ${theirs}, newer than this tq understands (${ours})`, {
      hint: 'run the sync with the newer tq',
    });
  }
  return other;
}

/**
 * `prefix`: whose history this is (default `tq`). Only the other file's rows of that prefix are
 * read (every row of a file older than per-prefix rows), and they are written as that prefix's,
 * so the prefix's readers see them.
 */
export function syncHistoryFrom(db: SqliteDatabase, file: string, prefix = 'tq'): SyncReport {
  const other = openOther(file, db);
  const report: SyncReport = {
    runs: { inserted: 0, updated: 0, filled: 0, unchanged: 0 },
    images: { inserted: 0, updated: 0, unchanged: 0 },
  };
  try {
    const theirColumns = new Set(
      (other.prepare('SELECT name FROM pragma_table_info(?)').all('task_runs') as { name: string }[]).map((c) => c.name),
    );
    const runColumns = RUN_COLUMNS.filter((c) => theirColumns.has(c));
    const theirs = theirColumns.has('prefix') ? 'AND prefix = @prefix' : '';
    const get = db.prepare('SELECT * FROM task_runs WHERE job_id = ?');
    const insert = db.prepare(
      `INSERT INTO task_runs (job_id, ${runColumns.join(', ')}, updated_at, prefix) VALUES (@job_id, ${runColumns.map((c) => `@${c}`).join(', ')}, @updated_at, @prefix)`,
    );
    const replace = db.prepare(
      `UPDATE task_runs SET ${runColumns.map((c) => `${c} = @${c}`).join(', ')}, updated_at = @updated_at WHERE job_id = @job_id`,
    );
    const page = other.prepare(
      `SELECT job_id, ${runColumns.join(', ')} FROM task_runs WHERE job_id > @after ${theirs} ORDER BY job_id LIMIT ${CHUNK}`,
    );
    let after = '';
    for (;;) {
      const rows = page.all({ after, prefix }) as TaskRunRow[];
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.job_id;
      db.transaction(() => {
        const now = new Date().toISOString();
        let changed = false;
        for (const there of rows) {
          const here = get.get(there.job_id) as TaskRunRow | undefined;
          if (here && here.prefix !== prefix) {
            // The same run id under another prefix sharing this file: a different run.
            report.runs.unchanged++;
          } else if (!here) {
            insert.run({ ...there, updated_at: now, prefix });
            report.runs.inserted++;
            changed = true;
          } else if (ahead(here, there)) {
            replace.run({ ...there, errors: mergeErrors(here.errors, there.errors), updated_at: now });
            report.runs.updated++;
            changed = true;
          } else if (here.state === there.state && here.attempt === there.attempt && fill(db, here, there, runColumns)) {
            report.runs.filled++;
            changed = true;
          } else {
            report.runs.unchanged++;
          }
        }
        if (changed) setMeta(db, ROWS_EPOCH, `${Date.now()}-${Math.random()}`);
      }).immediate();
    }
    syncImages(db, other, report, prefix);
  } finally {
    other.close();
  }
  return report;
}

/** Fills this row's missing facts from the other file's (same state and attempt); true when any was missing. */
function fill(db: SqliteDatabase, here: TaskRunRow, there: TaskRunRow, columns: readonly string[]): boolean {
  const missing = FACTS.filter((c) => columns.includes(c) && here[c] === null && there[c] !== null);
  const errors = mergeErrors(here.errors, there.errors);
  const errorsChanged = errors !== here.errors;
  if (missing.length === 0 && !errorsChanged) return false;
  const sets = [...missing.map((c) => `${c} = @${c}`), ...(errorsChanged ? ['errors = @errors'] : [])];
  db.prepare(`UPDATE task_runs SET ${sets.join(', ')} WHERE job_id = @job_id`).run({ ...there, errors, job_id: here.job_id });
  return true;
}

/** Every attempt's error from both files, once each, in attempt order (the text unchanged when nothing is new). */
function mergeErrors(here: string | null, there: string | null): string | null {
  if (there === null || there === here) return here;
  if (here === null) return there;
  const mine = JSON.parse(here) as { attempt: number }[];
  const theirs = JSON.parse(there) as { attempt: number }[];
  const extra = theirs.filter((t) => !mine.some((m) => m.attempt === t.attempt));
  if (extra.length === 0) return here;
  return JSON.stringify([...mine, ...extra].sort((a, b) => a.attempt - b.attempt));
}

function syncImages(db: SqliteDatabase, other: Database.Database, report: SyncReport, prefix: string): void {
  const theirColumns = new Set(
    (other.prepare('SELECT name FROM pragma_table_info(?)').all('images') as { name: string }[]).map((c) => c.name),
  );
  const columns = IMAGE_COLUMNS.filter((c) => theirColumns.has(c));
  const cutoff = getMeta(db, CLEANUP_CUTOFF) ?? '';
  const get = db.prepare('SELECT * FROM images WHERE id = ?');
  const insert = db.prepare(
    `INSERT INTO images (id, ${columns.join(', ')}, prefix) VALUES (@id, ${columns.map((c) => `@${c}`).join(', ')}, @prefix)`,
  );
  const replace = db.prepare(`UPDATE images SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`);
  const theirs = theirColumns.has('prefix') ? 'AND prefix = @prefix' : '';
  const page = other.prepare(`SELECT id, ${columns.join(', ')} FROM images WHERE id > @after ${theirs} ORDER BY id LIMIT ${CHUNK}`);
  let after = '';
  for (;;) {
    const rows = page.all({ after, prefix }) as Row[];
    if (rows.length === 0) break;
    after = String(rows[rows.length - 1]!.id);
    db.transaction(() => {
      for (const there of rows) {
        const here = get.get(there.id) as Row | undefined;
        if (!here) {
          // Deleted here by a cleanup the other file has not seen: stays deleted.
          if (String(there.uploaded_at) < cutoff) report.images.unchanged++;
          else {
            insert.run({ run_id: null, run_attempt: null, ...there, prefix });
            report.images.inserted++;
          }
          continue;
        }
        if (here.prefix !== prefix) {
          report.images.unchanged++;
          continue;
        }
        const attemptHere = Number(here.run_attempt ?? there.run_attempt ?? 0);
        const attemptThere = Number(there.run_attempt ?? attemptHere);
        const rankHere = IMAGE_RANK[String(here.status)] ?? 0;
        const rankThere = IMAGE_RANK[String(there.status)] ?? 0;
        if (attemptThere > attemptHere || (attemptThere === attemptHere && rankThere > rankHere)) {
          replace.run({ run_id: null, run_attempt: null, ...there });
          report.images.updated++;
        } else report.images.unchanged++;
      }
    }).immediate();
  }
}
