/**
 * History at scale, in one process: fills `task_runs` with `runs` realistic runs (direct inserts
 * in big transactions, through the search triggers as the recorder's writes go), then measures
 * what the issue asks of it, and prints one JSON line:
 *
 * - free-text search (first page of 50 with its total, as the API asks): p95 over a query mix
 * - the newest page of a filtered list (state/task/queue/worker/since filters): p95
 * - counts by state, task and queue (the counters): p95
 * - the database file size, per million runs
 * - pruning every finished run in chunks: the longest write transaction, and the whole time
 *
 *   node tq/history.js '{"dir":"/tmp/x","runs":1000000}'
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseQuery } from '../../dist/core/query.js';
import { HistoryQueries, openStore, pruneInChunks } from '../../dist/store/index.js';
import { indexQueuedRuns } from '../../dist/store/search-schema.js';
import { percentile } from '../lib/stats.js';
import { makeRuns, type Rng, rng } from './history-data.js';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  dir: string;
  runs: number;
  measureOnly?: boolean;
  keep?: boolean;
  pruneOnly?: boolean;
};
const log = (line: string) => process.stderr.write(`  history: ${line}\n`);

const file = path.join(args.dir, 'history.db');
fs.mkdirSync(args.dir, { recursive: true });
const store = openStore(file);
const db = store.db;
const now = Date.now();

// ---- fill ----
const columns = [
  'job_id',
  'task',
  'queue',
  'payload',
  'state',
  'result',
  'error',
  'attempt',
  'worker',
  'enqueued_at',
  'started_at',
  'finished_at',
  'runtime_ms',
  'errors',
  'logs',
  'updated_at',
] as const;
const insert = db.prepare(`INSERT INTO task_runs (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
const random: Rng = rng(17);
const started = performance.now();
const BATCH = 50_000;
const samples = { users: [] as number[], ids: [] as string[], hexes: [] as string[] };
for (let done = args.measureOnly || args.pruneOnly ? args.runs : 0; done < args.runs; done += BATCH) {
  const rows = makeRuns(random, done, Math.min(BATCH, args.runs - done), args.runs, now, samples);
  db.transaction(() => {
    for (const r of rows) insert.run(r);
    indexQueuedRuns(db);
  }).immediate();
  if ((done / BATCH) % 4 === 0) log(`${done + rows.length} runs written`);
}
const fillSeconds = (performance.now() - started) / 1000;
db.pragma('wal_checkpoint(TRUNCATE)');
db.exec('ANALYZE');
const bytes = fs.statSync(file).size;
log(`${args.runs} runs in ${fillSeconds.toFixed(1)} s, ${(bytes / 1024 / 1024).toFixed(0)} MB`);

// ---- measure ----
if (args.measureOnly || args.pruneOnly) {
  // Measuring a file filled before (while tuning): the samples come from its rows.
  const some = db.prepare("SELECT job_id, payload FROM task_runs WHERE task IN ('email', 'webhook') ORDER BY random() LIMIT 200").all() as {
    job_id: string;
    payload: string;
  }[];
  for (const r of some) {
    const p = JSON.parse(r.payload) as { user?: number; url?: string };
    samples.ids.push(r.job_id);
    if (p.user !== undefined) samples.users.push(p.user);
    if (p.url !== undefined) samples.hexes.push(p.url.split('/').pop()!);
  }
}
const history = new HistoryQueries(db);
const when = new Date(now);
function timed(texts: readonly string[], reps: number, run: (text: string) => unknown): number[] {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (const text of texts) {
      const t0 = performance.now();
      run(text);
      times.push(performance.now() - t0);
    }
  }
  return times;
}
const pick = <T>(xs: readonly T[], i: number) => xs[(i * 7919) % xs.length]!;
const textQueries = [
  'premature',
  '"premature end of JPEG"',
  'ECONNREFUSED',
  '"mailbox unavailable"',
  'TypeError',
  'error:"database is locked"',
  'error:timed',
  'smtp relay',
  'state:failed premature',
  'task:email mailbox',
  'queue:images corrupt',
  'backoff',
  'invoice EUR',
  ...Array.from({ length: 8 }, (_, i) => `user${pick(samples.users, i)}@example.com`),
  ...Array.from({ length: 8 }, (_, i) => pick(samples.hexes, i)),
  ...Array.from({ length: 8 }, (_, i) => pick(samples.ids, i).slice(0, 10)),
  ...Array.from({ length: 6 }, (_, i) => `payload.user:${pick(samples.users, i + 20)}`),
];
const filterQueries = [
  '',
  'state:failed',
  'state:failed,cancelled',
  'task:email',
  'task:resize state:failed',
  'queue:images state:failed',
  'queue:billing',
  'state:completed task:invoice',
  'state:waiting',
  'state:retrying',
  'task:webhook state:failed,expired',
  'since:1d',
  'since:7d state:failed',
  'worker:worker-3',
  `id:${pick(samples.ids, 3).slice(0, 8)}`,
];
const skip = args.pruneOnly === true;
if (!skip) for (const t of [...textQueries, ...filterQueries]) history.search(parseQuery(t, when), { limit: 50 }); // warm the cache
const textMs = timed(textQueries, skip ? 0 : 3, (t) => history.search(parseQuery(t, when), { limit: 50 }));
const filterMs = timed(filterQueries, skip ? 0 : 3, (t) => history.search(parseQuery(t, when), { limit: 50 }));
const countsMs = timed(['counts'], 30, () => history.counts());
const slowest = (texts: readonly string[], ms: number[]) =>
  texts
    .map((t, i) => ({ t, ms: Math.max(...ms.filter((_, j) => j % texts.length === i)) }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3)
    .map((x) => `${x.t || '(all)'} ${x.ms.toFixed(1)} ms`)
    .join(', ');
log(`free text p95 ${percentile(textMs, 95).toFixed(1)} ms (slowest: ${slowest(textQueries, textMs)})`);
log(`filtered newest page p95 ${percentile(filterMs, 95).toFixed(1)} ms (slowest: ${slowest(filterQueries, filterMs)})`);

// ---- prune ----
if (args.measureOnly || args.keep) process.exit(0);
const finished = (
  db
    .prepare(
      "SELECT count(*) AS n FROM task_runs WHERE finished_at IS NOT NULL AND state IN ('completed','failed','cancelled','expired','lost')",
    )
    .get() as { n: number }
).n;
// The write lock is held from BEGIN IMMEDIATE to COMMIT; the WAL checkpoint that follows a
// commit runs after the lock is released. To time the one without the other, this connection
// checkpoints between chunks itself (timed apart) instead of inside COMMIT.
db.pragma('wal_autocheckpoint = 0');
const pruneStarted = performance.now();
let longestMs = 0;
let longestCheckpointMs = 0;
let deleted = 0;
let chunks = 0;
const chunkLog: { rows: number; ms: number; cpu: number; inv: number; vol: number }[] = [];
const cutoff = new Date(now + 86_400_000).toISOString();
for (;;) {
  const report = pruneInChunks((limit) => {
    const ru0 = process.resourceUsage();
    const t = performance.now();
    const n = db.transaction(() => store.runs.pruneFinishedBefore(cutoff, limit)).immediate();
    const ms = performance.now() - t;
    longestMs = Math.max(longestMs, ms);
    const ru = process.resourceUsage();
    chunkLog.push({
      rows: n,
      ms,
      cpu: (ru.userCPUTime + ru.systemCPUTime - ru0.userCPUTime - ru0.systemCPUTime) / 1000,
      inv: ru.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
      vol: ru.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
    });
    const t0 = performance.now();
    db.pragma('wal_checkpoint(PASSIVE)');
    longestCheckpointMs = Math.max(longestCheckpointMs, performance.now() - t0);
    return n;
  });
  deleted += report.deleted;
  chunks += report.chunks;
  if (report.done) break;
}
const pruneSeconds = (performance.now() - pruneStarted) / 1000;
const over = (ms: number) => chunkLog.filter((c) => c.ms > ms).length;
const worst = [...chunkLog].sort((a, b) => b.ms - a.ms).slice(0, 5);
log(
  `chunks over 50 ms: ${over(50)}, over 100 ms: ${over(100)}; first: ${chunkLog
    .slice(0, 5)
    .map((c) => `${c.rows}/${c.ms.toFixed(0)}`)
    .join(
      ' ',
    )}; worst: ${worst.map((c) => `${c.rows}/${c.ms.toFixed(0)} ms (cpu ${c.cpu.toFixed(0)}, switches ${c.vol}+${c.inv}) at #${chunkLog.indexOf(c)}`).join(', ')}`,
);
const left = (db.prepare('SELECT count(*) AS n FROM task_runs').get() as { n: number }).n;
const counted = history.counts().total;
if (deleted !== finished || counted !== left)
  throw new Error(`prune: deleted ${deleted} of ${finished}; counters say ${counted}, table ${left}`);
log(
  `pruned ${deleted} runs in ${chunks} chunks over ${pruneSeconds.toFixed(1)} s, longest write ${longestMs.toFixed(1)} ms, longest checkpoint ${longestCheckpointMs.toFixed(1)} ms`,
);
store.close();
if (!args.pruneOnly) fs.rmSync(args.dir, { recursive: true, force: true });

process.stdout.write(
  `${JSON.stringify({
    runs: args.runs,
    fillSeconds,
    mbPerMillion: ((bytes / 1024 / 1024) * 1_000_000) / args.runs,
    textP95Ms: percentile(textMs, 95),
    filterP95Ms: percentile(filterMs, 95),
    countsP95Ms: percentile(countsMs, 95),
    pruneLongestMs: longestMs,
    pruneLongestCheckpointMs: longestCheckpointMs,
    pruneSeconds,
    pruned: deleted,
  })}\n`,
);
