import type { Redis } from './connection.js';
import { tqKeys } from './keys.js';

/**
 * Why a run's earlier execution ended its worker (a handler that blocked the event loop past
 * `worker.maxBlocked` or its time limit, or that crashed the process). Written by the process
 * that is about to end, read by the next execution's gate: a run that ended its worker twice
 * fails with the reason instead of taking down worker after worker; a time-limit end is final
 * at once (a time-limit failure is never retried).
 *
 * One hash per prefix, field `<queue>:<id>`, value `count|final|reason`.
 */
export const MARK_SCRIPT =
  "local cur = redis.call('HGET', KEYS[1], ARGV[1]); local n = 0; " +
  "if cur then n = tonumber(string.match(cur, '^(%d+)')) or 0 end; n = n + 1; " +
  "redis.call('HSET', KEYS[1], ARGV[1], n .. '|' .. ARGV[3] .. '|' .. ARGV[2]); return n";

export interface RunMark {
  /** How many executions of this run ended their worker. */
  count: number;
  /** The end is final (a time limit): fail at once. */
  final: boolean;
  reason: string;
}

const field = (queue: string, id: string) => `${queue}:${id}`;

export function parseMark(text: string | null | undefined): RunMark | undefined {
  if (!text) return undefined;
  const match = /^(\d+)\|([01])\|(.*)$/s.exec(text);
  if (!match) return undefined;
  return { count: Number(match[1]), final: match[2] === '1', reason: match[3]! };
}

/** Records that these runs' executions are ending with their worker (one round trip). */
export async function markRuns(
  redis: Redis,
  prefix: string,
  runs: readonly { id: string; queue: string }[],
  reason: string,
  final = false,
): Promise<void> {
  if (runs.length === 0) return;
  const pipe = redis.pipeline();
  for (const run of runs) pipe.eval(MARK_SCRIPT, 1, tqKeys(prefix).runMarks, field(run.queue, run.id), reason, final ? '1' : '0');
  const replies = (await pipe.exec()) ?? [];
  for (const [err] of replies) if (err) throw err;
}

export async function readMark(redis: Redis, prefix: string, queue: string, id: string): Promise<RunMark | undefined> {
  return parseMark(await redis.hget(tqKeys(prefix).runMarks, field(queue, id)));
}

/** Forgets a run's mark once the run has ended (only runs that had one pay for this). */
export async function clearMark(redis: Redis, prefix: string, queue: string, id: string): Promise<void> {
  await redis.hdel(tqKeys(prefix).runMarks, field(queue, id));
}
