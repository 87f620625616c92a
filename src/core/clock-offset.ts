/**
 * How far a host's clock may be from the Redis server's, and what tq says about it. The offset
 * is always `server - local` (ms): negative when this host's clock runs ahead of Redis's.
 *
 * tq judges its own times on Redis's clock, but BullMQ promotes delayed runs (delays, ETAs,
 * backoff retries) with the clock of whichever worker fetches next: a worker ahead starts them
 * early, one behind late. So every process measures its offset, warns past a second, and workers
 * and beats refuse to start past `worker.maxClockOffset`.
 */
import { formatDuration } from './duration.js';
import { TqError } from './errors.js';

/** Offsets past this are worth a warning (NTP keeps hosts within milliseconds). */
export const CLOCK_WARN_MS = 1000;
/** Default of `worker.maxClockOffset`: a worker or beat this far off refuses to start. */
export const DEFAULT_MAX_CLOCK_OFFSET_MS = 30_000;

/** A worker or beat whose host clock is off by more than `worker.maxClockOffset`. Exit 2. */
export class ClockSkewError extends TqError {
  constructor(message: string, hint: string) {
    super('E_CLOCK', message, 2, { hint });
  }
}

/** `12ms behind` / `3.2s ahead` / `1h 0m ahead`: a host's clock relative to Redis's. */
export function describeOffset(offsetMs: number): string {
  const size = Math.abs(offsetMs) < 1000 ? `${Math.round(Math.abs(offsetMs))}ms` : formatDuration(Math.abs(offsetMs));
  return `${size} ${offsetMs < 0 ? 'ahead' : 'behind'}`;
}

/** `3.2s ahead of Redis's` / `3.2s behind Redis's`. */
const versusRedis = (offsetMs: number) => `${describeOffset(offsetMs)}${offsetMs < 0 ? ' of' : ''} Redis's`;

/** The one warning line for an offset past CLOCK_WARN_MS; undefined for a clock in step. */
export function clockWarning(offsetMs: number): string | undefined {
  if (Math.abs(offsetMs) <= CLOCK_WARN_MS) return undefined;
  return `this host's clock is ${versusRedis(offsetMs)}; delayed runs are promoted on workers' clocks: run NTP`;
}

/**
 * The error a worker or beat starts with when its clock is off by more than `maxMs` (undefined
 * when it is within; `maxMs` Infinity turns the check off).
 */
export function clockRefusal(offsetMs: number, maxMs: number, what: string): ClockSkewError | undefined {
  if (Math.abs(offsetMs) <= maxMs) return undefined;
  return new ClockSkewError(
    `${what} not started: this host's clock is ${versusRedis(offsetMs)} (over worker.maxClockOffset, ${formatDuration(maxMs)})`,
    'sync the clock (NTP); or raise worker.maxClockOffset in the config to run anyway (delays and retries then start early or late by the offset)',
  );
}
