/**
 * BullMQ schedules a delayed run at `timestamp + delay`, with `timestamp` the calling worker's
 * `Date.now()`: a backoff retry or a parked run of a worker one hour ahead would wait an hour
 * for everyone else. This backend factory (BullMQ's own extension point, `BackendFactory`) moves
 * that timestamp onto the Redis server's clock, so every delayed move a worker makes is due at
 * server-now + delay. Promotion of due runs stays on the promoting worker's clock (BullMQ reads
 * `Date.now()` inside its fetch), which is why processes warn about their offset.
 */
import type { BackendFactory, RedisQueueBackend } from 'bullmq';
import type { ServerClock } from '../clock.js';
import { createRedisBackend } from '../engine.js';

/** A Redis backend whose `moveToDelayed` reads time from `clock` instead of this host's. */
export function serverTimeBackend(clock: ServerClock): BackendFactory<RedisQueueBackend> {
  return (name, opts, options) => {
    const backend = createRedisBackend(name, opts, options);
    const moveToDelayed = backend.moveToDelayed.bind(backend);
    backend.moveToDelayed = (jobId, timestamp, delay, token, moveOpts) =>
      moveToDelayed(jobId, clock.toServer(timestamp), delay, token, moveOpts);
    return backend;
  };
}
