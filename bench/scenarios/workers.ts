/** Starting the two kinds of worker process the scenarios measure, and reading their results. */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import { logFile, type BenchContext } from '../lib/bench.js';
import { benchScript, startProcess, TQ_BIN, until, type LongRunning } from '../lib/proc.js';
import type { BenchProject } from '../lib/project.js';

/** A bare BullMQ worker process (`bench/baseline/worker.ts`). */
export function startBaselineWorker(
  ctx: BenchContext,
  o: { label: string; prefix: string; queue: string; concurrency: number; mode: 'noop' | 'resize' },
): Promise<LongRunning> {
  const args = { mode: o.mode, url: ctx.redisUrl, prefix: o.prefix, queue: o.queue, concurrency: o.concurrency };
  return startProcess([...ctx.nodeFlags(`${o.label}-bullmq-worker`), benchScript('baseline/worker.js'), JSON.stringify(args)], {
    logFile: logFile(ctx, `${o.prefix}-worker`),
    ready: /^ready$/m,
  });
}

/** A real `tq worker` process on the project's config, prefix and SQLite file. */
export function startTqWorker(
  ctx: BenchContext,
  project: BenchProject,
  o: { label: string; queue: string; concurrency: number },
): Promise<LongRunning> {
  return startProcess([...ctx.nodeFlags(`${o.label}-tq-worker`), TQ_BIN, 'worker', '-Q', o.queue, '-c', String(o.concurrency)], {
    cwd: project.dir,
    env: project.env,
    logFile: logFile(ctx, `${project.prefix}-worker`),
    ready: /tq worker \S+ ready/,
  });
}

export interface Span {
  /** Runs finished. */
  count: number;
  /** First start and first/last completion, epoch ms (BullMQ's processedOn / finishedOn). */
  firstStart: number;
  firstDone: number;
  lastDone: number;
}

/** Waits until a plain BullMQ queue has `n` completed jobs (BullMQ keeps them all by default). */
export async function waitBaselineDone(redis: Redis, prefix: string, queue: string, n: number, timeoutMs: number): Promise<Span> {
  const key = `${prefix}:${queue}:completed`;
  await until(async () => ((await redis.zcard(key)) >= n ? true : undefined), `${n} completed jobs in ${prefix}:${queue}`, timeoutMs, 50);
  const first = await redis.zrange(key, 0, 0, 'WITHSCORES');
  const last = await redis.zrange(key, -1, -1, 'WITHSCORES');
  const firstJob = first[0]!;
  const processedOn = Number(await redis.hget(`${prefix}:${queue}:${firstJob}`, 'processedOn'));
  return { count: n, firstStart: processedOn, firstDone: Number(first[1]), lastDone: Number(last[1]) };
}

/**
 * Waits until tq's history (the worker's SQLite file) has `n` completed runs: the worker's real
 * work includes the recorder writing every run's row. Returns the span and when the history
 * caught up.
 */
export async function waitTqDone(project: BenchProject, n: number, timeoutMs: number): Promise<Span & { historyAt: number }> {
  await until(() => (fs.existsSync(project.dbFile) ? true : undefined), `the database ${project.dbFile}`, timeoutMs, 50);
  const db = new Database(project.dbFile, { readonly: true, fileMustExist: true, timeout: 10_000 });
  try {
    // Polled every 50 ms while the worker runs: only a count over the state index (cheap, so
    // the poller takes next to no CPU from the worker it measures); the span once at the end.
    const count = db.prepare("SELECT count(*) AS n FROM task_runs WHERE state = 'completed'");
    await until(
      () => ((count.get() as { n: number }).n >= n ? true : undefined),
      `${n} completed runs in ${project.dbFile}`,
      timeoutMs,
      50,
    );
    const historyAt = Date.now();
    type Row = { n: number; firstStart: string; firstDone: string; lastDone: string };
    const done = db
      .prepare(
        "SELECT count(*) AS n, min(started_at) AS firstStart, min(finished_at) AS firstDone, max(finished_at) AS lastDone FROM task_runs WHERE state = 'completed'",
      )
      .get() as Row;
    return {
      count: done.n,
      firstStart: Date.parse(done.firstStart),
      firstDone: Date.parse(done.firstDone),
      lastDone: Date.parse(done.lastDone),
      historyAt,
    };
  } finally {
    db.close();
  }
}
