/**
 * A worker and the Redis server's clock: it refuses to start past `worker.maxClockOffset`, warns
 * past a second (at start and whenever a re-measure finds it off again), and its heartbeats carry
 * server-clock times and its offset, re-measured once a minute (one TIME, on a beat).
 */
import type { Redis } from 'ioredis';
import { clockRefusal } from '../../core/clock-offset.js';
import type { TaskLogger } from '../../core/task.js';
import type { ServerClock } from '../clock.js';
import { HeartbeatPublisher, type WorkerHeartbeat } from '../heartbeat.js';
import type { WorkerStats } from './options.js';

/** Throws the refusal for a clock past `maxOffsetMs`; logs the warning for one past a second. */
export function checkWorkerClock(clock: ServerClock, maxOffsetMs: number, logger: TaskLogger): void {
  const refusal = clockRefusal(clock.offset, maxOffsetMs, 'worker');
  if (refusal) throw refusal;
  const skew = clock.skewWarning();
  if (skew) logger.warn(skew);
}

/** What the worker says about itself besides its counters. */
export type WorkerIdentity = Pick<WorkerHeartbeat, 'name' | 'queues' | 'concurrency' | 'active' | 'version' | 'stopping' | 'app'>;

/** A heartbeat publisher whose times are on the server clock (the counters' on this host's). */
export function serverClockHeartbeat(
  redis: Redis,
  prefix: string,
  clock: ServerClock,
  state: () => { stats: WorkerStats; identity: WorkerIdentity },
  logger: TaskLogger,
  intervalMs?: number,
): HeartbeatPublisher {
  const snapshot = () => {
    const { stats, identity } = state();
    return {
      ...stats,
      ...identity,
      startedAt: clock.toServer(stats.startedAt),
      lastFetchAt: clock.toServer(stats.lastFetchAt),
      clockOffsetMs: clock.offset,
    };
  };
  const beforeBeat = async () => {
    await clock.fresh();
    const skew = clock.skewWarning();
    if (skew) logger.warn(skew);
  };
  return new HeartbeatPublisher(redis, prefix, snapshot, logger, intervalMs, { now: () => clock.now(), beforeBeat });
}
