import { createRequire } from 'node:module';
import { Worker as Thread } from 'node:worker_threads';
import { formatDuration } from '../../core/duration.js';
import { threadConnection } from '../connection.js';
import { tqKeys } from '../keys.js';
import { LOCK_KEEPER_THREAD } from './lock-keeper-thread.js';

/**
 * Why a helper thread: BullMQ renews a run's lock from timers on the main thread. A handler that
 * blocks the event loop (a large synchronous JSON parse, crypto, a synchronous image library)
 * stops those timers; the lock expires, a stall check puts the run back and it runs again while
 * the first execution is still going, each time with the same attempt number. The thread keeps
 * the locks of the runs in progress alive while the main thread does not tick, says so at once
 * (it writes to stderr itself: the main thread's streams wait for the main thread), and past
 * `maxBlockedMs` ends the process: nothing else can stop a handler that never yields, and a lock
 * kept forever would hold its run forever.
 */
export interface LockKeeperOptions {
  redisUrl: string;
  prefix: string;
  /** BullMQ's lock duration of this worker's runs. */
  lockDurationMs: number;
  /** Past this long without a tick, the process is ended (the runs are recovered elsewhere). */
  maxBlockedMs: number;
  /** Where the thread writes its lines (a file descriptor; stderr by default). */
  logFd?: number;
  /** Worker name, for the lines. */
  worker: string;
  /** The thread failed (its runs' locks are then BullMQ's alone, as without a keeper). */
  onError?: (err: Error) => void;
}

/** A stretch of time in which the main thread did not tick. */
export interface BlockedEpisode {
  startedAt: number;
  durationMs: number;
}

/**
 * Runs started and ended reach the thread through a ring in shared memory, not messages:
 * 8,192 slots of 256 bytes (2 MiB). The thread drains it every 50 ms, so it keeps up with
 * 80,000 records a second.
 */
const RING_SLOTS = 8192;
const RING_SLOT_BYTES = 256;
const RING_HEADER = 8;
/** How often the main thread says it is alive (a shared memory write, no message). */
const TICK_MS = 100;
/** The main thread counts as blocked past this long without a tick (well under any lock). */
export const blockedThresholdMs = (lockDurationMs: number) => Math.max(500, Math.min(lockDurationMs / 4, 5000));

export class LockKeeper {
  private readonly thread: Thread;
  private readonly ticks: Float64Array;
  private readonly timer: NodeJS.Timeout;
  private lastTick = Date.now();
  private episodes: BlockedEpisode[] = [];
  /** The ring of track/untrack records the thread reads (see RING_SLOTS). */
  private readonly ringSeq: Int32Array;
  private readonly ringSlots: Buffer;
  private closed = false;

  private constructor(private readonly options: LockKeeperOptions) {
    const shared = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * 2);
    this.ticks = new Float64Array(shared);
    this.ticks[0] = this.lastTick;
    const ring = new SharedArrayBuffer(RING_HEADER + RING_SLOTS * RING_SLOT_BYTES);
    this.ringSeq = new Int32Array(ring, 0, 1);
    this.ringSlots = Buffer.from(ring, RING_HEADER);
    const require = createRequire(import.meta.url);
    const { cluster, redis } = threadConnection(options.redisUrl, 'tq-lock-keeper');
    this.thread = new Thread(LOCK_KEEPER_THREAD, {
      eval: true,
      // Not the process's flags: `--input-type=module` would make the CommonJS source a module.
      execArgv: [],
      // Its lines go straight to the file descriptor (fs.writeSync): no stdio streams to pipe
      // through this thread (piping would open the process's own stdout and stderr handles).
      stdout: true,
      stderr: true,
      workerData: {
        ioredis: require.resolve('ioredis'),
        redis,
        cluster,
        ticks: shared,
        ring,
        ringSlots: RING_SLOTS,
        ringSlotBytes: RING_SLOT_BYTES,
        prefix: options.prefix,
        lockDurationMs: options.lockDurationMs,
        blockedMs: blockedThresholdMs(options.lockDurationMs),
        maxBlockedMs: options.maxBlockedMs,
        logFd: options.logFd ?? 2,
        worker: options.worker,
        marks: tqKeys(options.prefix).runMarks,
        maxBlockedText: formatDuration(options.maxBlockedMs),
      },
    });
    // The thread must never keep a finished worker process alive.
    this.thread.unref();
    this.thread.on('error', (err) => options.onError?.(err));
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Starts the helper thread (it connects to Redis by itself, lazily). */
  static start(options: LockKeeperOptions): LockKeeper {
    return new LockKeeper(options);
  }

  private tick(): void {
    const now = Date.now();
    const gap = now - this.lastTick;
    if (gap - TICK_MS >= blockedThresholdMs(this.options.lockDurationMs)) {
      this.episodes.push({ startedAt: this.lastTick, durationMs: gap });
      if (this.episodes.length > 64) this.episodes.shift();
    }
    this.lastTick = now;
    this.ticks[0] = now;
  }

  /**
   * A run started: the thread learns its lock before the handler is called, so even a handler
   * that blocks at once has its lock kept (BullMQ's lock and stalled keys are derived here).
   * `deadline`: when the run's time limit runs out (epoch ms), if it has one.
   */
  track(run: { id: string; queue: string; token: string; label: string; deadline?: number }): void {
    if (this.closed) return;
    this.record(`T\t${run.id}\t${run.token}\t${run.queue}\t${run.deadline ?? 0}\t${run.label}`);
  }

  /** A run ended. */
  untrack(id: string): void {
    if (!this.closed) this.record(`U\t${id}`);
  }

  /**
   * One record into the ring: a few hundred nanoseconds, where a `postMessage` per run cost about
   * 13 µs (a sixth of a no-op run). The sequence number is written last (Atomics), so the thread
   * reads only complete records; it wraps as an int32, and slots are picked by a mask.
   */
  private record(text: string): void {
    const seq = this.ringSeq[0]!;
    const offset = (seq & (RING_SLOTS - 1)) * RING_SLOT_BYTES;
    const length = this.ringSlots.write(text, offset + 2, RING_SLOT_BYTES - 2, 'utf8');
    this.ringSlots.writeUInt16LE(length, offset);
    Atomics.store(this.ringSeq, 0, (seq + 1) | 0);
  }

  /**
   * The longest stretch since `since` (epoch ms) in which the main thread did not tick, including
   * the one that may have just ended (the tick timer has not run yet when a handler returns).
   */
  blockedSince(since: number): number {
    const now = Date.now();
    // The stretch still going on counts from the later of the last tick and `since`.
    let longest = now - Math.max(this.lastTick, since);
    for (const e of this.episodes) if (e.startedAt + e.durationMs >= since) longest = Math.max(longest, e.durationMs);
    return longest >= blockedThresholdMs(this.options.lockDurationMs) ? longest : 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.thread.postMessage({ t: 'close' });
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => void this.thread.terminate().then(() => resolve()), 1000);
      this.thread.once('exit', () => {
        clearTimeout(done);
        resolve();
      });
    });
  }
}
