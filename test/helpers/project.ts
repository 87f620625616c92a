import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { pollUntil } from '../../src/core/async.js';
import { ROOT, makeProject, type TestProject } from './cli.js';

/** The test application config (test/fixtures/app-config.ts.txt) with its placeholders filled. */
export function appConfig(options: { grace?: string } = {}): string {
  return fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'app-config.ts.txt'), 'utf8').replace('__GRACE__', options.grace ?? '5m');
}

export function appProject(options: { grace?: string; redisUrl?: string; prefix?: string } = {}): TestProject {
  return makeProject(appConfig(options), options);
}

/** Reads rows from a project's SQLite file (read-only, a fresh connection each time). */
export function query<T = Record<string, unknown>>(dbFile: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** A BullMQ queue handle on the project's prefix, for asserting on Redis state. */
export function bullQueue(project: TestProject, name: string): Queue {
  return new Queue(name, { connection: { url: project.redisUrl }, prefix: project.prefix });
}

/** Polls `check` every 25 ms until it returns a truthy value or the deadline passes. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 15_000, what = 'condition'): Promise<NonNullable<T>> {
  let last: unknown;
  const value = await pollUntil(
    async () => {
      try {
        return (await check()) || undefined;
      } catch (err) {
        // A check may throw while the thing it waits for is not there yet: keep the last error.
        last = err;
        return undefined;
      }
    },
    { intervalMs: 25, timeoutMs },
  );
  if (value === undefined) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
  return value as NonNullable<T>;
}

/** The semantics test config (retries, limits, priorities, expiry, cancel, progress). */
export function semanticsProject(options: { redisUrl?: string; prefix?: string } = {}): TestProject {
  return makeProject(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'semantics-config.ts.txt'), 'utf8'), options);
}

export interface RunRow {
  job_id: string;
  task: string;
  queue: string;
  state: string;
  attempt: number;
  error: string | null;
  errors: string | null;
  result: string | null;
  payload: string | null;
  worker: string | null;
  enqueued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  progress: string | null;
  logs: string | null;
}

export function runRow(project: TestProject, id: string): RunRow | undefined {
  return query<RunRow>(project.dbFile, 'SELECT * FROM task_runs WHERE job_id = ?', id)[0];
}
