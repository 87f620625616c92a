import type { Admin } from './admin.js';
import { adminConnection } from './admin.js';

/**
 * When the longest-waiting run that could start now became due, per queue, beyond the `wait`
 * list that `queueStats` reads: the first run of the `delayed` set when its time has passed
 * (a delayed run no worker moved yet: every worker is busy or gone), and the next run of the
 * `prioritized` set (a lower bound: BullMQ orders that set by priority, not age). A fixed number
 * of commands per queue (two ZRANGEs in one pipeline, one HGET per prioritized queue), whatever
 * the queue lengths.
 */
export async function runnableSince(admin: Admin, queues: readonly string[], now = Date.now()): Promise<Map<string, number>> {
  const { redis, prefix } = adminConnection(admin);
  const pipeline = redis.pipeline();
  for (const q of queues) {
    pipeline.zrange(`${prefix}:${q}:delayed`, 0, 0, 'WITHSCORES');
    pipeline.zrange(`${prefix}:${q}:prioritized`, 0, 0);
  }
  const replies = (await pipeline.exec()) ?? [];
  const out = new Map<string, number>();
  const heads: { queue: string; id: string }[] = [];
  queues.forEach((q, i) => {
    const delayed = replies[i * 2]?.[1] as string[] | undefined;
    // BullMQ scores a delayed run by its due time in ms times 4096 plus a counter.
    const due = delayed?.[1] !== undefined ? Math.floor(Number(delayed[1]) / 4096) : undefined;
    if (due !== undefined && due <= now) out.set(q, due);
    const prioritized = replies[i * 2 + 1]?.[1] as string[] | undefined;
    if (prioritized?.[0] !== undefined) heads.push({ queue: q, id: prioritized[0] });
  });
  if (heads.length > 0) {
    const read = redis.pipeline();
    for (const h of heads) read.hget(`${prefix}:${h.queue}:${h.id}`, 'timestamp');
    const times = (await read.exec()) ?? [];
    heads.forEach((h, i) => {
      const at = Number(times[i]?.[1]);
      if (Number.isFinite(at) && at > 0) out.set(h.queue, Math.min(out.get(h.queue) ?? at, at));
    });
  }
  return out;
}
