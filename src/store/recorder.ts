import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { compareStreamIds, type RunEventSource, type StreamEntry } from '../core/run-events.js';
import { sleep } from '../core/async.js';
import { errorMessage } from '../core/errors.js';
import type { SqliteDatabase } from './database.js';
import { fileRefusal } from './file-refusal.js';
import { getMeta, ROWS_EPOCH, setMeta } from './meta.js';
import { recordStreamGap } from './stream-gap.js';
import { readQueueEvents, storeQueuePositions } from './queue-positions.js';
import { reconcileRuns } from './reconcile.js';
import { pruneInChunks } from './prune.js';
import { createTaskRunsRepository, type TaskRunsRepository } from './task-runs.js';
import type { CatchUpResult, RecorderOptions } from './recorder-options.js';

export type { CatchUpResult, RecorderOptions } from './recorder-options.js';

const LAST_ID = 'recorder_last_id';
const APPLIED = 'recorder_applied_total';
const LEASE = 'recorder_lease';
const GAP = 'recorder_missed_total';
/**
 * BullMQ's streams are read this far behind (ms): tq's own event of the same move (with the
 * worker, the runtime and the attempt) is applied first, and BullMQ's then only confirms it.
 * Moves no tq process reports (bull-board, plain BullMQ clients) reach history this much later.
 */
const QUEUE_EVENTS_LAG_MS = 1000;
/**
 * After a batch that was not a full read, pause this long before reading on: the events of the
 * next moments (a run's `active` and `completed` follow its `enqueued` within milliseconds) then
 * share one read and one transaction, and the process pays one wake-up per pause instead of one
 * per event written (worth about 5 % of round-trip latency on a 2-core host). History stays
 * current within this much; `catchUp` (inspect, enqueue --wait) does not wait for it.
 */
const PAUSE_MS = 50;
/** A file locked this long by another process is worth a warning (shorter is ordinary contention). */
const REFUSAL_WARN_MS = 2000;

interface Lease {
  owner: string;
  expires: number;
}

/**
 * Applies the run-event stream to `task_runs`. Every tq process that opens a database file
 * runs one; a lease row in the file makes sure only one of them writes at a time, so SQLite
 * contention stays low. Batches are applied in `BEGIN IMMEDIATE` transactions together with the
 * last applied stream id, so a crash never applies a batch twice or skips one.
 */
export class Recorder {
  readonly runs: TaskRunsRepository;
  private readonly owner = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly refusalWarnMs: number;
  /** Aborted by `close()`: the loop's sleeps end at once and it stops after the read in flight. */
  private stopping: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private lastPrune = 0;
  /** Whether the last prune stopped at its time budget with rows left to delete. */
  private pruneBehind = false;
  private readonly keys: { lastId: string; applied: string; lease: string; missed: string };
  private lastGapCheck = 0;
  private lastReconcile = Date.now();
  /** Since when the file has refused writes (locked or full), for one warning per episode. */
  private refusedSince: number | undefined;
  private refusalWarned = false;
  /** The last stream id this recorder stored (see `step`). */
  private lastWritten: string | undefined;
  /** Run events applied by this recorder (for catchUp's report). */
  private eventsApplied = 0;
  private collisionWarned = false;
  private rowsEpoch: string | undefined;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly source: RunEventSource,
    private readonly options: RecorderOptions = {},
  ) {
    this.runs = createTaskRunsRepository(db, {
      rememberRows: options.rememberRows ?? 2000,
      ...(options.stream !== undefined ? { prefix: options.stream } : {}),
      onCollision: (jobId, other) => this.collided(jobId, other),
    });
    const suffix = options.stream ? `:${options.stream}` : '';
    this.keys = { lastId: LAST_ID + suffix, applied: APPLIED + suffix, lease: LEASE + suffix, missed: GAP + suffix };
    this.batchSize = options.batchSize ?? 1000;
    // Short: a holder killed mid-burst leaves the file unrecorded until its lease lapses.
    this.leaseMs = options.leaseMs ?? 6_000;
    this.refusalWarnMs = options.refusalWarnMs ?? REFUSAL_WARN_MS;
  }

  /** One line per recorder: a run id that another prefix's row holds in this file is not recorded. */
  private collided(jobId: string, otherPrefix: string): void {
    if (this.collisionWarned) return;
    this.collisionWarned = true;
    this.options.logger?.warn(
      `history: run ${jobId} of prefix "${this.options.stream ?? 'tq'}" has the id of prefix "${otherPrefix}"'s run in this file; it is not recorded here (give each prefix its own --db)`,
    );
  }

  get lastId(): string {
    return getMeta(this.db, this.keys.lastId) ?? '0-0';
  }

  /** Tries to take (or renew) the lease; true when this recorder holds it. */
  acquireLease(now = Date.now()): boolean {
    return this.immediate(() => {
      const raw = getMeta(this.db, this.keys.lease);
      const lease = raw ? (JSON.parse(raw) as Lease) : undefined;
      if (lease && lease.owner !== this.owner && lease.expires > now) return false;
      // Not ours until now (or it lapsed): another recorder may have written rows meanwhile.
      if (!lease || lease.owner !== this.owner || lease.expires <= now) this.runs.forget();
      setMeta(this.db, this.keys.lease, JSON.stringify({ owner: this.owner, expires: now + this.leaseMs }));
      return true;
    });
  }

  releaseLease(): void {
    this.immediate(() => {
      const raw = getMeta(this.db, this.keys.lease);
      const lease = raw ? (JSON.parse(raw) as Lease) : undefined;
      if (lease?.owner === this.owner) setMeta(this.db, this.keys.lease, JSON.stringify({ owner: '', expires: 0 }));
    });
  }

  /**
   * Applies everything the stream holds now, then returns. Used by short-lived commands
   * (enqueue, inspect) so the file is current before they read it. When another process holds
   * the lease it is left to that process and nothing is applied.
   */
  async catchUp(options: { waitForHolderMs?: number } = {}): Promise<CatchUpResult> {
    if (!this.acquireLease()) {
      // Another process records into this file: wait (briefly) until it has applied everything
      // in the stream now, so the caller reads its own writes. Queues nothing registered are
      // looked for now all the same (the holder looks every 30 s), so the caller lists them.
      await this.source.queueEvents?.queues();
      await this.waitForHolder(options.waitForHolderMs ?? 3000);
      return { applied: 0 };
    }
    try {
      const missed = await this.checkGap(true);
      const before = this.eventsApplied;
      for (;;) {
        const n = await this.step(0);
        if (n < this.batchSize) break;
      }
      this.maybePrune(true);
      const applied = this.eventsApplied - before;
      return missed ? { applied, missed } : { applied };
    } finally {
      this.releaseLease();
    }
  }

  private async waitForHolder(timeoutMs: number): Promise<void> {
    const target = (await this.source.info()).lastId;
    if (!target) return;
    const deadline = Date.now() + timeoutMs;
    while (compareStreamIds(this.lastId, target) < 0 && Date.now() < deadline) {
      // The holder may have died without releasing: take over once its lease expires.
      if (this.acquireLease()) {
        try {
          while ((await this.step(0)) >= this.batchSize);
        } finally {
          this.releaseLease();
        }
        return;
      }
      await sleep(15);
    }
  }

  /** Runs the recorder in the background until `close()`. */
  start(): void {
    if (this.loop) return;
    this.stopping = new AbortController();
    this.loop = this.run(this.stopping.signal);
  }

  /** Stops the background loop: it applies what it has read, releases the lease and returns. */
  async close(): Promise<void> {
    this.stopping?.abort();
    await this.loop;
    this.loop = undefined;
    this.stopping = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let leader = false;
    let renewAt = 0;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const now = Date.now();
        if (!leader || now >= renewAt) {
          const wasLeader = leader;
          leader = this.acquireLease(now);
          renewAt = now + this.leaseMs / 3;
          if (leader && !wasLeader) await this.checkGap(true);
        }
        if (!leader) {
          // The lease check went through: the file answers, so any refusal episode is over (a
          // later lock is a new one, not the same one lasting; see refusedSince).
          if (this.refusalWarned)
            this.options.logger?.info('history recorder: the history database is free again; another tq process records into it');
          this.endRefusal();
          await sleep(Math.min(2000, this.leaseMs / 3), signal);
          continue;
        }
        await this.checkGap(false);
        const read = await this.step(1000, this.options.queueEventsLagMs ?? QUEUE_EVENTS_LAG_MS);
        this.maybePrune(false);
        await this.maybeReconcile();
        if (failures > 0 || this.refusalWarned) this.options.logger?.info('history recorder: recovered; history is current again');
        failures = 0;
        this.endRefusal();
        // Let the next batch gather for a moment (see PAUSE_MS); a full read goes on at once.
        if (read > 0 && read < this.batchSize) await sleep(PAUSE_MS, signal);
      } catch (err) {
        const refusal = fileRefusal(err);
        if (refusal) {
          // Another process holds a write lock, or the disk is full: never wait for it on this
          // thread (the busy timeout would stop heartbeats and lock renewals). Try again soon,
          // and say so once it has lasted (brief contention with a CLI command is normal).
          const now = Date.now();
          this.refusedSince ??= now;
          if (!this.refusalWarned && (refusal.code !== 'SQLITE_BUSY' || now - this.refusedSince >= this.refusalWarnMs)) {
            this.refusalWarned = true;
            this.options.logger?.warn(`history recorder: ${refusal.text}; runs go on, and history catches up once it is free`);
          }
          await sleep(refusal.code === 'SQLITE_BUSY' ? 100 : 2000, signal);
          continue;
        }
        failures += 1;
        // One line per state change, not one per retry.
        if (failures === 1) this.options.logger?.warn(`history recorder: ${errorMessage(err)} (retrying)`);
        await sleep(Math.min(500 * failures, 5000), signal);
      }
    }
    if (leader) {
      try {
        await this.step(0);
      } catch {
        // Shutting down and Redis is away: the next recorder resumes from the stored id.
      }
      this.releaseLease();
    }
  }

  /** The file took a write again: the refusal episode (see `run`) is over. */
  private endRefusal(): void {
    this.refusedSince = undefined;
    this.refusalWarned = false;
  }

  /**
   * Reads one batch of entries after the last applied id and applies their events; returns how
   * many entries (each a batch of events) it read, and adds the events to `eventsApplied`.
   */
  private async step(blockMs: number, lagMs = 0): Promise<number> {
    const entries = await this.source.read(this.lastId, this.batchSize, blockMs);
    const queued = await readQueueEvents(this.db, this.source, this.options.stream ?? '', entries, this.batchSize, lagMs);
    const queuedRead = queued.reduce((n, b) => Math.max(n, b.read), 0);
    if (queued.length > 0) {
      // After this file's own stream: tq's events of a move come first (see QUEUE_EVENTS_LAG_MS).
      this.immediate(() => {
        this.checkRowsEpoch();
        this.applyTqEntries(entries);
        const events = queued.length === 1 ? queued[0]!.events : queued.flatMap((b) => b.events);
        this.runs.apply(events, { redactKeys: this.options.redactKeys ?? [] });
        this.eventsApplied += events.length;
        storeQueuePositions(this.db, this.options.stream ?? '', queued);
      });
      return Math.max(entries.length, queuedRead);
    }
    if (entries.length === 0) return 0;
    this.immediate(() => {
      this.checkRowsEpoch();
      this.applyTqEntries(entries);
    });
    return entries.length;
  }

  /** Rows changed by another writer than a recorder (`tq history sync`): forget the remembered ones. */
  private checkRowsEpoch(): void {
    const epoch = getMeta(this.db, ROWS_EPOCH);
    if (epoch !== this.rowsEpoch) this.runs.forget();
    this.rowsEpoch = epoch;
  }

  /** Applies entries of tq's stream (inside the caller's transaction) and stores the position. */
  private applyTqEntries(entries: readonly StreamEntry[]): void {
    if (entries.length === 0) return;
    const last = entries[entries.length - 1]!.id;
    // Another recorder may have applied these meanwhile (lease lost while blocked): skip them.
    const stored = getMeta(this.db, this.keys.lastId) ?? '0-0';
    // Someone else applied entries since this recorder last did: the rows it remembers may be stale.
    if (stored !== this.lastWritten) this.runs.forget();
    // Entries come in stream order: usually all are fresh, and one comparison says so.
    const from = compareStreamIds(entries[0]!.id, stored) > 0 ? 0 : entries.findIndex((e) => compareStreamIds(e.id, stored) > 0);
    if (from < 0) return;
    const fresh = from === 0 ? entries : entries.slice(from);
    const redactKeys = this.options.redactKeys ?? [];
    const events = fresh.length === 1 ? fresh[0]!.events : fresh.flatMap((e) => e.events);
    this.runs.apply(events, { redactKeys });
    this.eventsApplied += events.length;
    setMeta(this.db, this.keys.lastId, last);
    this.lastWritten = last;
    setMeta(this.db, this.keys.applied, String(Number(getMeta(this.db, this.keys.applied) ?? '0') + fresh.length));
  }

  /** Looks for a trimmed gap after the last applied id (see `recordStreamGap`), every 30 s unless forced. */
  private async checkGap(force: boolean): Promise<number | undefined> {
    const now = Date.now();
    if (!force && now - this.lastGapCheck < 30_000) return undefined;
    this.lastGapCheck = now;
    const info = await this.source.info();
    return recordStreamGap(this.db, this.keys, info, (fn) => this.immediate(fn), this.options.logger);
  }

  /**
   * Every so often (half of `reconcileAfterMs`), rows that stopped moving are checked against
   * Redis: an end that died with a killed process is applied, a run Redis no longer has is
   * marked `lost`. Bounded per pass (see `reconcileRuns`).
   */
  private async maybeReconcile(): Promise<void> {
    const lookup = this.source.lookup?.bind(this.source);
    if (!lookup) return;
    const after = this.options.reconcileAfterMs ?? 60_000;
    const now = Date.now();
    if (now - this.lastReconcile < Math.max(1000, after / 2)) return;
    this.lastReconcile = now;
    const report = await reconcileRuns(this.db, this.runs, lookup, { staleMs: after, recheckMs: after * 2, limit: 500, now });
    if (report.repaired > 0 || report.lost > 0) {
      this.options.logger?.info(
        `history: ${report.repaired} run(s) brought up to date from Redis (their end events never arrived), ${report.lost} marked lost (Redis no longer has them)`,
      );
    }
  }

  private maybePrune(force: boolean): void {
    if (this.options.keepMs === undefined) return;
    const now = Date.now();
    if (!force && !this.pruneBehind && now - this.lastPrune < 3_600_000) return;
    this.lastPrune = now;
    const cutoff = new Date(now - this.options.keepMs).toISOString();
    // Short transactions, so readers and the next batch never wait long; the rest next round.
    const report = pruneInChunks((limit) => this.immediate(() => this.runs.pruneFinishedBefore(cutoff, limit)));
    this.pruneBehind = !report.done;
  }

  private immediate<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      // SQLite has already rolled back after some errors (SQLITE_FULL, SQLITE_IOERR): a second
      // ROLLBACK would fail with "no transaction is active" and hide the real cause.
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      // Rows remembered from the rolled-back writes are not what the file holds.
      this.runs.forget();
      throw err;
    }
  }
}
