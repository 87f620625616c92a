import os from 'node:os';
import type { Redis } from 'ioredis';
import { errorMessage, UsageError } from '../core/errors.js';
import type { TaskLogger } from '../core/task.js';
import { tqKeys } from './keys.js';

/** What a live worker says about itself every few seconds. */
export interface WorkerHeartbeat {
  name: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  active: { id: string; task: string; startedAt: number }[];
  processed: number;
  failed: number;
  zombies: number;
  startedAt: number;
  /** Last time the worker took a run or found its queues empty (its fetch loop is alive). */
  lastFetchAt: number;
  rssBytes: number;
  version: string;
  /**
   * The Redis server's clock minus this worker's, ms (negative: the worker's runs ahead), as last
   * measured. Absent from workers of older versions.
   */
  clockOffsetMs?: number;
  /** The application it belongs to (its config's `name` or package name). Absent: unnamed, or an older version. */
  app?: string;
  /** In its warm shutdown: takes no new runs, finishes the active ones. Absent: not stopping. */
  stopping?: boolean;
  /** When this heartbeat was written (Redis server clock, like every time in the heartbeat). */
  at: number;
}

/** How a publisher reads the time, and what it does before each beat. */
export interface HeartbeatClock {
  /** Now, on the clock the heartbeat's times are on; default `Date.now`. */
  now?: () => number;
  /** Runs before each beat (a clock re-sync); a rejection fails that beat. */
  beforeBeat?: () => Promise<void>;
}

export const HEARTBEAT_INTERVAL_MS = 5000;
/** A worker that has not beaten for this long is gone (its key expires). */
export const HEARTBEAT_TTL_MS = 15_000;

/**
 * Publishes heartbeats: one key per worker with a TTL (a crashed worker disappears by itself)
 * plus a sorted set of names by last beat, so listing workers needs no KEYS/SCAN and no CLIENT
 * LIST (which managed Redis services block). A beat that cannot be written is logged once per
 * change (failing, then written again), like a lost connection: the worker drops out of
 * `tq inspect workers` meanwhile and the log says why.
 */
export class HeartbeatPublisher {
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly snapshot: () => Omit<WorkerHeartbeat, 'host' | 'pid' | 'rssBytes' | 'at'>,
    private readonly logger: TaskLogger,
    private readonly intervalMs = HEARTBEAT_INTERVAL_MS,
    private readonly clock: HeartbeatClock = {},
  ) {}

  start(): void {
    void this.beatAndReport();
    this.timer = setInterval(() => void this.beatAndReport(), this.intervalMs);
    this.timer.unref();
  }

  /** Writes one heartbeat; rejects when Redis did not take it. */
  async beat(): Promise<void> {
    const keys = tqKeys(this.prefix);
    await this.clock.beforeBeat?.();
    const beat: WorkerHeartbeat = {
      ...this.snapshot(),
      host: os.hostname(),
      pid: process.pid,
      rssBytes: process.memoryUsage.rss(),
      at: (this.clock.now ?? Date.now)(),
    };
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.redis
        .multi()
        .set(keys.worker(beat.name), JSON.stringify(beat), 'PX', HEARTBEAT_TTL_MS)
        .set(keys.workerName(beat.name), processIdentity(), 'PX', HEARTBEAT_TTL_MS)
        .zadd(keys.workers, beat.at, beat.name)
        .exec();
    } catch (err) {
      // EXECABORT only says the transaction was discarded; the refusal that caused it says why.
      throw (err as { previousErrors?: Error[] }).previousErrors?.[0] ?? err;
    }
    // EXEC answers per command: a command refused inside the transaction does not reject exec().
    const refused = replies?.find(([err]) => err)?.[0];
    if (refused) throw refused;
  }

  /** A timed beat: its outcome is reported on a change of state, never thrown. */
  private async beatAndReport(): Promise<void> {
    try {
      await this.beat();
    } catch (err) {
      if (!this.failing)
        this.logger.warn(`heartbeat not written (${errorMessage(err)}); this worker is missing from \`tq inspect workers\` until it is`);
      this.failing = true;
      return;
    }
    if (this.failing) this.logger.info('heartbeat written again');
    this.failing = false;
  }

  /** Stops beating and removes this worker from the registry at once (a clean exit). */
  async stop(name: string): Promise<void> {
    clearInterval(this.timer);
    const keys = tqKeys(this.prefix);
    await this.redis.multi().del(keys.worker(name), keys.workerName(name)).zrem(keys.workers, name).exec();
  }
}

/** The live workers under a prefix (expired entries are pruned as they are found). */
export async function liveWorkers(redis: Redis, prefix: string): Promise<WorkerHeartbeat[]> {
  const keys = tqKeys(prefix);
  const names = await redis.zrange(keys.workers, 0, -1);
  if (names.length === 0) return [];
  const values = await redis.mget(...names.map((n) => keys.worker(n)));
  const live: WorkerHeartbeat[] = [];
  const gone: string[] = [];
  names.forEach((name, i) => {
    const text = values[i];
    if (!text) return void gone.push(name);
    try {
      live.push(JSON.parse(text) as WorkerHeartbeat);
    } catch {
      gone.push(name);
    }
  });
  if (gone.length > 0) await redis.zrem(keys.workers, ...gone);
  return live.sort((a, b) => a.name.localeCompare(b.name));
}

/** This process, as a worker name's holder: `host:pid`. */
export function processIdentity(): string {
  return `${os.hostname()}:${process.pid}`;
}

/** Whether a process of this host with this pid is running (a holder that crashed is not). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Takes `name` for this process (one live worker per name): two workers with one name would
 * share one heartbeat row and one `tq control shutdown` would stop both. The claim lives as long
 * as the heartbeat; a holder on this host whose process is gone (a crash, a restart by a
 * supervisor) is replaced at once. Throws `UsageError` (exit 2) naming the live holder.
 */
export async function claimWorkerName(redis: Redis, prefix: string, name: string): Promise<void> {
  const key = tqKeys(prefix).workerName(name);
  const me = processIdentity();
  if (await redis.set(key, me, 'PX', HEARTBEAT_TTL_MS, 'NX')) return;
  const holder = await redis.get(key);
  if (holder === null || holder === me) {
    await redis.set(key, me, 'PX', HEARTBEAT_TTL_MS);
    return;
  }
  const at = holder.lastIndexOf(':');
  const host = holder.slice(0, at);
  const pid = Number(holder.slice(at + 1));
  if (host === os.hostname() && Number.isInteger(pid) && !processAlive(pid)) {
    await redis.set(key, me, 'PX', HEARTBEAT_TTL_MS);
    return;
  }
  throw new UsageError(`worker name "${name}" is held by a live worker (host ${host}, pid ${pid})`, {
    hint: `start this one with another -n, or stop that one first (tq control shutdown ${name})`,
  });
}
