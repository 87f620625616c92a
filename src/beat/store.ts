/**
 * What the dispatch loop needs from Redis, as an interface: `src/queue/beat-store.ts`
 * implements it (Lua scripts), tests may fake it.
 */

/** A schedule's shared state. */
export interface ScheduleState {
  /** Every fire time at or before this instant (epoch ms) has been dealt with. */
  readonly cursor: number;
  /** The definition the cursor belongs to (`ResolvedSchedule.spec`). */
  readonly spec: string;
  /** The last fire time enqueued, if any. */
  readonly lastFire: number | undefined;
}

/**
 * An atomic compare-and-set of a schedule's cursor: applied only when the stored cursor and spec
 * are still `expected` (undefined: no state yet). With `fire`, the new cursor is a fire time this
 * beat now owes an enqueue for, recorded as pending until `confirm`.
 */
export interface Claim {
  readonly name: string;
  readonly expected: ScheduleState | undefined;
  readonly cursor: number;
  readonly spec: string;
  readonly fire: boolean;
  /** Wall-clock time of the claim, epoch ms: stamps the pending entry. */
  readonly now: number;
}

/** A fire time claimed but not yet known to be enqueued. */
export interface PendingFire {
  readonly name: string;
  readonly fireMs: number;
  /** When the current owner claimed (or took over) it, epoch ms. */
  readonly claimedAt: number;
}

export interface BeatStateReader {
  /** The state of each named schedule that has one. */
  read(names: readonly string[]): Promise<Map<string, ScheduleState>>;
}

export interface BeatStore extends BeatStateReader {
  /** The compare-and-set; true when this caller won it. */
  claim(claim: Claim): Promise<boolean>;
  /** The enqueue of a claimed fire time went through: drops the pending entry if still ours. */
  confirm(pending: PendingFire): Promise<void>;
  /** Whether the pending entry is still there and still ours (nobody took it over). */
  owns(pending: PendingFire): Promise<boolean>;
  /** Pending entries claimed before `before` (their owner presumably died), oldest first. */
  stale(before: number, limit: number): Promise<PendingFire[]>;
  /** Takes a stale entry over (compare-and-set on its stamp); the new entry when won. */
  takeOver(pending: PendingFire, now: number): Promise<PendingFire | undefined>;
  /** Drops the state of schedules not in `keep`; returns their names. */
  forgetOthers(keep: readonly string[]): Promise<string[]>;
}

/** Adds one run (the producer, in production). */
export type EnqueueRun = (
  task: string,
  payload: unknown,
  options: { id: string; queue?: string; priority?: number },
) => Promise<{ id: string; queue: string; existed: boolean }>;

/** A live connection's worth of Redis operations; replaced as a whole when Redis goes away. */
export interface BeatBackend {
  readonly store: BeatStore;
  readonly enqueue: EnqueueRun;
  close(): Promise<void>;
}
