/**
 * What tq stores as a BullMQ job's data: the payload plus tq's per-run facts. Jobs written by a
 * plain BullMQ producer (no marker) are accepted: their whole data is the payload.
 */
export interface RunEnvelope {
  $tq: 1;
  payload: unknown;
  enqueuedAt: number;
}

export function wrap(payload: unknown, enqueuedAt: number): RunEnvelope {
  return { $tq: 1, payload, enqueuedAt };
}

export function unwrap(data: unknown): { payload: unknown; enqueuedAt: number | undefined } {
  if (data && typeof data === 'object' && (data as RunEnvelope).$tq === 1) {
    const env = data as RunEnvelope;
    return { payload: env.payload, enqueuedAt: env.enqueuedAt };
  }
  return { payload: data, enqueuedAt: undefined };
}
