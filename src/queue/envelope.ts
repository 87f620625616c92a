/**
 * What tq stores as a BullMQ job's data: the payload plus tq's per-run facts. Jobs written by a
 * plain BullMQ producer (no marker) are accepted: their whole data is the payload.
 */
export interface RunEnvelope {
  $tq: 1;
  payload: unknown;
  /** Enqueue time by the Redis server's clock (epoch ms). */
  enqueuedAt: number;
  /** Not started by then (server clock) -> never executed, state `expired`. */
  expiresAt?: number;
  /** Per-run time limit override, ms. */
  timeLimitMs?: number;
  /** A rate-limit slot already reserved for this run (epoch ms, server clock). */
  rateSlot?: number;
}

export interface Unwrapped {
  payload: unknown;
  enqueuedAt: number | undefined;
  expiresAt: number | undefined;
  timeLimitMs: number | undefined;
  rateSlot: number | undefined;
  /** Whether the data was written by tq (false for a plain BullMQ producer). */
  tq: boolean;
}

export function wrap(
  payload: unknown,
  enqueuedAt: number,
  extra: Partial<Pick<RunEnvelope, 'expiresAt' | 'timeLimitMs'>> = {},
): RunEnvelope {
  return { $tq: 1, payload, enqueuedAt, ...extra };
}

/**
 * What a run stores as its job data: the payload itself when the run carries no per-run facts
 * (the enqueue time is the job's own `timestamp`), so most runs store and parse no envelope;
 * the envelope when it does, or when the payload could be mistaken for one.
 */
export function jobData(payload: unknown, enqueuedAt: number, extra: Partial<Pick<RunEnvelope, 'expiresAt' | 'timeLimitMs'>>): unknown {
  const looksWrapped = payload !== null && typeof payload === 'object' && Object.prototype.hasOwnProperty.call(payload, '$tq');
  if (!looksWrapped && extra.expiresAt === undefined && extra.timeLimitMs === undefined) return payload;
  return wrap(payload, enqueuedAt, extra);
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function unwrap(data: unknown): Unwrapped {
  if (data && typeof data === 'object' && (data as RunEnvelope).$tq === 1) {
    const env = data as RunEnvelope;
    return {
      payload: env.payload,
      enqueuedAt: num(env.enqueuedAt),
      expiresAt: num(env.expiresAt),
      timeLimitMs: num(env.timeLimitMs),
      rateSlot: num(env.rateSlot),
      tq: true,
    };
  }
  return { payload: data, enqueuedAt: undefined, expiresAt: undefined, timeLimitMs: undefined, rateSlot: undefined, tq: false };
}

/** The job data with a reserved rate-limit slot; a plain BullMQ job's data gets wrapped. */
export function withRateSlot(data: unknown, slot: number, fallbackEnqueuedAt: number): RunEnvelope {
  if (data && typeof data === 'object' && (data as RunEnvelope).$tq === 1) return { ...(data as RunEnvelope), rateSlot: slot };
  return { $tq: 1, payload: data, enqueuedAt: fallbackEnqueuedAt, rateSlot: slot };
}

/**
 * The job option that names the application a run belongs to (`ResolvedConfig.app`). It lives in
 * the job's options, not its data, so the data stays the payload itself for plain BullMQ
 * consumers and bull-board; BullMQ keeps options it does not know as they are.
 */
export const APP_OPTION = 'tqApp';

/** The application a job was enqueued by (undefined: a plain BullMQ producer, or an app with no name). */
export function appOf(opts: unknown): string | undefined {
  const app = opts && typeof opts === 'object' ? (opts as Record<string, unknown>)[APP_OPTION] : undefined;
  return typeof app === 'string' && app.length > 0 ? app : undefined;
}
