/**
 * The recorder's write path with and without the search triggers (FTS index and counters): the
 * same run events (enqueued, active, completed per run, as a drain produces them, with small
 * realistic payloads and results) applied in batches of 1,000 in `BEGIN IMMEDIATE`
 * transactions, as the recorder applies them, to a fresh file each time. Alternates the two
 * sides for `rounds` rounds; prints one JSON line with every round's events/s.
 *
 *   node tq/history-apply.js '{"dir":"/tmp/x","runs":30000,"rounds":3}'
 */
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../dist/store/index.js';
import { SEARCH_TRIGGER_NAMES } from '../../dist/store/search-schema.js';
import { createTaskRunsRepository } from '../../dist/store/task-runs.js';

const args = JSON.parse(process.argv[2] ?? '{}') as { dir: string; runs: number; rounds: number };

interface Event {
  type: 'enqueued' | 'active' | 'completed';
  jobId: string;
  task: string;
  queue: string;
  at: number;
  attempt: number;
  payload?: unknown;
  result?: unknown;
  worker?: string;
  runtimeMs?: number;
  startedAt?: number;
}

/** Enqueued events first (a bulk enqueue), then each run's start and end, as a drain sees them. */
function events(runs: number): Event[][] {
  const t0 = Date.now();
  const out: Event[] = [];
  for (let i = 0; i < runs; i++) {
    out.push({
      type: 'enqueued',
      jobId: `run-${i}`,
      task: 'resize',
      queue: 'images',
      at: t0 + i,
      attempt: 0,
      payload: { file: `uploads/2026/11/img_${i}.jpg`, user: i % 5000, maxWidth: 800 },
    });
  }
  for (let i = 0; i < runs; i++) {
    const at = t0 + runs + i * 2;
    const base = { jobId: `run-${i}`, task: 'resize', queue: 'images' };
    out.push({ type: 'active', ...base, at, attempt: 1, worker: 'host1.4242' });
    out.push({
      type: 'completed',
      ...base,
      at: at + 1,
      attempt: 1,
      result: { width: 800, height: 600, bytes: 41_233 + i },
      runtimeMs: 1,
      startedAt: at,
    });
  }
  const batches: Event[][] = [];
  for (let i = 0; i < out.length; i += 1000) batches.push(out.slice(i, i + 1000));
  return batches;
}

function measure(withTriggers: boolean, round: number, batches: Event[][]): number {
  const file = path.join(args.dir, `apply-${withTriggers ? 'fts' : 'plain'}-${round}.db`);
  const store = openStore(file);
  if (!withTriggers) for (const name of SEARCH_TRIGGER_NAMES) store.db.exec(`DROP TRIGGER ${name}`);
  const repo = createTaskRunsRepository(store.db, { rememberRows: 2000 });
  const t0 = performance.now();
  let n = 0;
  for (const batch of batches) {
    store.db.exec('BEGIN IMMEDIATE');
    repo.apply(batch as never);
    store.db.exec('COMMIT');
    n += batch.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  return n / seconds;
}

fs.mkdirSync(args.dir, { recursive: true });
const batches = events(args.runs);
measure(true, 0, batches.slice(0, 20)); // warm up: code paths compiled before either side is timed
const out = { fts: [] as number[], plain: [] as number[] };
for (let r = 1; r <= args.rounds; r++) {
  // Alternate which side goes first, so neither always meets a warmer disk cache.
  const order = r % 2 ? [false, true] : [true, false];
  for (const withTriggers of order) (withTriggers ? out.fts : out.plain).push(measure(withTriggers, r, batches));
  process.stderr.write(
    `  history apply round ${r}/${args.rounds}: without triggers ${Math.round(out.plain.at(-1)!)} events/s, with ${Math.round(out.fts.at(-1)!)} events/s\n`,
  );
}
fs.rmSync(args.dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(out)}\n`);
