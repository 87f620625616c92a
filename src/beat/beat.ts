/**
 * The dispatch loop of `tq beat` (and of `tq dev`).
 *
 * Each pass (`tick`) reads every schedule's shared state from Redis, works out which fire times
 * are due, and for each one it means to enqueue it first wins a compare-and-set that moves the
 * schedule's cursor onto that fire time; only the winner enqueues. So any number of beats, on
 * any hosts, enqueue each fire time once. A win is recorded as *pending* in the same atomic step
 * and confirmed once the run is in its queue: if the winner dies in between, another beat (or
 * the next one to start) finds the stale pending entry and enqueues the run under the same
 * deterministic id, so a crash costs a delay, never the run.
 *
 * Between passes the loop sleeps until the next fire time (at most `maxSleepMs`: Node's timers
 * overflow past ~24.8 days, and stale pending entries are looked for on every pass). Redis going
 * away is logged once, then the connection is rebuilt with backoff; the owed enqueue is retried.
 */
import { errorMessage, UsageError } from '../core/errors.js';
import { MISSED_ALL_CAP, keepFor, selectDue, type DueSelection } from './missed.js';
import { scheduleRunId } from './run-id.js';
import { dueFireTimes, nextFireAfter, type ResolvedSchedule } from './schedule.js';
import type { BeatBackend, PendingFire, ScheduleState } from './store.js';
import { formatInZone } from './zone.js';

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    }),
};

export interface BeatLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** One run a beat enqueued. */
export interface Dispatch {
  schedule: string;
  task: string;
  id: string;
  queue: string;
  fireMs: number;
  /** When the enqueue went through, by the beat's clock. */
  at: number;
  /** The id was already in the queue (a recovered claim whose first enqueue did go through). */
  existed: boolean;
}

export interface BeatOptions {
  schedules: readonly ResolvedSchedule[];
  /** Opens the Redis side; called again, with backoff, after Redis went away. */
  connect: () => Promise<BeatBackend>;
  /** An already open backend to start with (the CLI connects first, to fail fast). */
  backend?: BeatBackend;
  logger: BeatLogger;
  clock?: Clock;
  /** Longest single sleep, ms (default 60 s). */
  maxSleepMs?: number;
  /** A pending claim older than this is presumed orphaned by a dead beat (default 30 s). */
  pendingLeaseMs?: number;
  /** `missed: 'all'` cap (default `MISSED_ALL_CAP`). */
  cap?: number;
  onDispatch?: (dispatch: Dispatch) => void;
  /**
   * The state history records for a run id (undefined: history has no such run). A fire time
   * claimed before (by a beat that died, or by this one before Redis went away) is enqueued only
   * when history has no run for it: Redis may have trimmed a run that did go through and ran,
   * and the same id would then run again.
   */
  recorded?: (id: string) => string | undefined;
}

/** Raised by a Redis-side operation: the loop rebuilds the connection instead of crashing. */
class BackendError extends Error {
  constructor(readonly reason: unknown) {
    super(errorMessage(reason));
    this.name = 'BackendError';
  }
}

/** A lost compare-and-set does not loop forever when another beat keeps winning. */
const MAX_ROUNDS = 5;

export class Beat {
  private readonly schedules: readonly ResolvedSchedule[];
  private readonly byName: ReadonlyMap<string, ResolvedSchedule>;
  private readonly clock: Clock;
  private readonly maxSleepMs: number;
  private readonly leaseMs: number;
  private readonly cap: number;
  private backend: BeatBackend | undefined;
  /** Claims this beat won whose enqueue did not go through yet (Redis went away). */
  private readonly owed: PendingFire[] = [];
  private readonly controller = new AbortController();
  private loop: Promise<void> | undefined;
  private down = false;
  /** Runs this beat enqueued. */
  dispatched = 0;

  constructor(private readonly options: BeatOptions) {
    this.schedules = options.schedules;
    this.byName = new Map(options.schedules.map((s) => [s.name, s]));
    this.clock = options.clock ?? systemClock;
    this.maxSleepMs = options.maxSleepMs ?? 60_000;
    this.leaseMs = options.pendingLeaseMs ?? 30_000;
    this.cap = options.cap ?? MISSED_ALL_CAP;
    this.backend = options.backend;
  }

  private get stopping(): boolean {
    return this.controller.signal.aborted;
  }

  /** Starts the loop; the promise settles when it ends (after `stop`), and rejects on a bug. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  /** Stops after the dispatch in progress, if any, and closes the Redis side. */
  async stop(): Promise<void> {
    this.controller.abort();
    try {
      await this.loop;
    } finally {
      await this.dropBackend();
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let forgotten = false;
    while (!this.stopping) {
      let wakeAt: number;
      try {
        if (!this.backend) {
          this.backend = await this.connect();
          if (!this.backend) break;
        }
        if (this.down) {
          this.down = false;
          this.options.logger.info('Redis is reachable again; beat is catching up');
        }
        if (!forgotten) {
          await this.forgetRemoved();
          forgotten = true;
        }
        wakeAt = await this.tick();
        failures = 0;
      } catch (err) {
        if (!(err instanceof BackendError)) throw err;
        failures += 1;
        if (!this.down) {
          this.down = true;
          this.options.logger.warn(`Redis unavailable (${err.message}); beat retries with backoff and sends what is due once it is back`);
        }
        await this.dropBackend();
        wakeAt = this.clock.now() + Math.min(250 * 2 ** Math.min(failures - 1, 5), 5000);
      }
      if (this.stopping) break;
      const delay = Math.min(Math.max(wakeAt - this.clock.now(), 1), this.maxSleepMs);
      await this.clock.sleep(delay, this.controller.signal);
    }
  }

  /** A new backend; undefined when stopped meanwhile (a connect attempt can take seconds). */
  private async connect(): Promise<BeatBackend | undefined> {
    const { signal } = this.controller;
    const connecting = this.options.connect();
    let onAbort: () => void = () => undefined;
    const stopped = new Promise<undefined>((resolve) => {
      onAbort = () => resolve(undefined);
      if (signal.aborted) resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    let backend: BeatBackend | undefined;
    try {
      backend = await Promise.race([connecting, stopped]);
    } catch (err) {
      throw new BackendError(err);
    } finally {
      // Outages call this again and again: leave no listener behind on the long-lived signal.
      signal.removeEventListener('abort', onAbort);
    }
    if (!backend)
      void connecting.then(
        (late) => late.close(),
        () => undefined,
      );
    return backend;
  }

  /**
   * One pass: settles owed and orphaned claims, then advances every schedule. Returns when the
   * next pass is needed (epoch ms). Throws `BackendError` when Redis fails mid-pass.
   */
  async tick(): Promise<number> {
    const now = this.clock.now();
    await this.settleOwed();
    await this.recoverStale(now);
    const states = await this.io((b) => b.store.read(this.schedules.map((s) => s.name)));
    let wakeAt = now + this.maxSleepMs;
    for (const s of this.schedules) {
      if (this.stopping) break;
      const next = await this.advance(s, states.get(s.name), now);
      // Disabled schedules need no wake-up of their own: any pass moves their cursor along.
      if (s.enabled && next !== undefined) wakeAt = Math.min(wakeAt, next);
    }
    return wakeAt;
  }

  /** Brings one schedule up to `now`; returns its next fire time. */
  private async advance(s: ResolvedSchedule, initial: ScheduleState | undefined, now: number): Promise<number | undefined> {
    let state = initial;
    for (let round = 0; round < MAX_ROUNDS && !this.stopping; round++) {
      if (!state || state.spec !== s.spec) {
        // First sight, or a changed definition: start from now, never backfill. Never move the
        // cursor back either (another host's clock may be behind ours).
        const cursor = Math.max(now, state?.cursor ?? now);
        if (await this.claim(s, state, cursor, false, now)) {
          const next = nextFireAfter(s, cursor);
          const when = !s.enabled ? 'disabled' : next === undefined ? 'no fire time ahead' : `first run ${formatInZone(next, s.zone)}`;
          this.options.logger.info(
            state ? `${s.name}: definition changed; starting over from now (${when})` : `${s.name}: new schedule; ${when}`,
          );
          return next;
        }
        state = await this.reread(s.name);
        continue;
      }
      const due = dueFireTimes(s, state.cursor, now, keepFor(s.missed, this.cap));
      const selection = selectDue(due, now, s.missed, { enabled: s.enabled, cap: this.cap });
      if (selection.advanceTo === undefined) return due.next;
      let expected: ScheduleState = state;
      let lost = false;
      for (const fireMs of selection.dispatch) {
        if (!(await this.claim(s, expected, fireMs, true, now))) {
          lost = true;
          break;
        }
        if (expected === state) this.reportMissed(s, selection);
        expected = { cursor: fireMs, spec: s.spec, lastFire: fireMs };
        await this.dispatch(s, { name: s.name, fireMs, claimedAt: now }, 'fresh');
        // Stopping mid catch-up: the cursor marks what was sent; the next beat sends the rest.
        if (this.stopping) return due.next;
      }
      if (!lost && expected.cursor < selection.advanceTo) {
        lost = !(await this.claim(s, expected, selection.advanceTo, false, now));
        if (!lost && selection.dispatch.length === 0) this.reportMissed(s, selection);
      }
      if (!lost) return due.next;
      // Another beat moved first: look again from what it left.
      state = await this.reread(s.name);
    }
    return undefined;
  }

  private reportMissed(s: ResolvedSchedule, selection: DueSelection): void {
    if (!s.enabled || selection.missed === 0) return;
    const n = `${selection.exact ? '' : 'more than '}${selection.missed} missed run(s)`;
    const { logger } = this.options;
    if (s.missed === 'skip') logger.warn(`${s.name}: skipped ${n} (missed: 'skip')`);
    else if (s.missed === 'latest') logger.warn(`${s.name}: ${n}; enqueueing only the latest (missed: 'latest')`);
    else {
      const capped = selection.dropped > 0 ? `, the latest ${selection.dispatch.length} (capped at ${this.cap})` : '';
      logger.warn(`${s.name}: ${n}; enqueueing ${selection.dispatch.length}${capped} (missed: 'all')`);
    }
  }

  private claim(s: ResolvedSchedule, expected: ScheduleState | undefined, cursor: number, fire: boolean, now: number): Promise<boolean> {
    return this.io((b) => b.store.claim({ name: s.name, expected, cursor, spec: s.spec, fire, now }));
  }

  private async reread(name: string): Promise<ScheduleState | undefined> {
    return (await this.io((b) => b.store.read([name]))).get(name);
  }

  /**
   * Enqueues a claimed fire time and confirms it. An `owed` one (a retry after an outage) is
   * first checked to be still ours (another beat may have taken it over meanwhile); an owed or
   * `recovered` one is not enqueued when history already has its run (see `recorded`).
   */
  private async dispatch(s: ResolvedSchedule, pending: PendingFire, how: 'fresh' | 'owed' | 'recovered'): Promise<void> {
    const id = scheduleRunId(s.name, pending.fireMs);
    try {
      if (how === 'owed' && !(await this.io((b) => b.store.owns(pending)))) return;
      const recorded = how === 'fresh' ? undefined : this.options.recorded?.(id);
      if (recorded !== undefined) {
        await this.io((b) => b.store.confirm(pending));
        this.options.logger.info(
          `${s.name}: run ${id} (due ${formatInZone(pending.fireMs, s.zone)}) is already in history (${recorded}); not enqueueing it again`,
        );
        return;
      }
      let run: { id: string; queue: string; existed: boolean };
      try {
        run = await this.io((b) =>
          b.enqueue(s.task, s.payload, {
            id,
            ...(s.queue ? { queue: s.queue } : {}),
            ...(s.priority !== undefined ? { priority: s.priority } : {}),
          }),
        );
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        // No retry can fix this run (the config validated, so this is rare): say so, move on.
        this.options.logger.error(`${s.name}: run ${id} cannot be enqueued: ${err.message}`);
        await this.io((b) => b.store.confirm(pending));
        return;
      }
      await this.io((b) => b.store.confirm(pending));
      this.dispatched += 1;
      const at = this.clock.now();
      const lag = at - pending.fireMs;
      this.options.logger.info(
        `${s.name} -> ${s.task} run ${run.id} on ${run.queue}${run.existed ? ' (already enqueued)' : ''}, due ${formatInZone(pending.fireMs, s.zone)} (${lag >= 0 ? '+' : ''}${lag}ms)`,
      );
      this.options.onDispatch?.({
        schedule: s.name,
        task: s.task,
        id: run.id,
        queue: run.queue,
        fireMs: pending.fireMs,
        at,
        existed: run.existed,
      });
    } catch (err) {
      if (err instanceof BackendError) this.owed.push(pending);
      throw err;
    }
  }

  private async settleOwed(): Promise<void> {
    while (this.owed.length > 0 && !this.stopping) {
      const pending = this.owed.shift()!;
      const s = this.byName.get(pending.name);
      if (s) await this.dispatch(s, pending, 'owed');
    }
  }

  /** Enqueues what a beat claimed and then died before confirming. */
  private async recoverStale(now: number): Promise<void> {
    const stale = await this.io((b) => b.store.stale(now - this.leaseMs, 50));
    for (const old of stale) {
      if (this.stopping) return;
      const mine = await this.io((b) => b.store.takeOver(old, now));
      if (!mine) continue;
      const id = scheduleRunId(old.name, old.fireMs);
      const s = this.byName.get(old.name);
      if (!s) {
        this.options.logger.warn(
          `run ${id} was claimed but never confirmed, and schedule "${old.name}" is no longer in the config; dropping it`,
        );
        await this.io((b) => b.store.confirm(mine));
        continue;
      }
      this.options.logger.warn(
        `${s.name}: the beat that claimed the fire time ${formatInZone(old.fireMs, s.zone)} stopped before confirming it; enqueueing it now`,
      );
      await this.dispatch(s, mine, 'recovered');
    }
  }

  /** A removed schedule stops, and re-adding one later starts it afresh. */
  private async forgetRemoved(): Promise<void> {
    const forgotten = await this.io((b) => b.store.forgetOthers(this.schedules.map((s) => s.name)));
    if (forgotten.length > 0) this.options.logger.info(`forgot the state of schedule(s) no longer in the config: ${forgotten.join(', ')}`);
  }

  private async io<T>(fn: (backend: BeatBackend) => Promise<T>): Promise<T> {
    const backend = this.backend;
    if (!backend) throw new BackendError(new Error('not connected'));
    try {
      return await fn(backend);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new BackendError(err);
    }
  }

  private async dropBackend(): Promise<void> {
    const backend = this.backend;
    this.backend = undefined;
    await backend?.close().catch(() => undefined);
  }
}
