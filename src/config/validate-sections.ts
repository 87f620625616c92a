// The checks beat resolves with, so validation and dispatch can never disagree.
import { scheduleProblems } from '../beat/schedule.js';
import { DEFAULT_PAYLOAD_LIMIT, DEFAULT_RESULT_LIMIT } from '../core/json.js';
import { DEFAULT_MAX_CLOCK_OFFSET_MS } from '../core/clock-offset.js';
import { isTimeZone } from '../core/names.js';
import type { TqConfig } from '../core/task.js';
import type { Problems } from './problems.js';
import type { ResolvedConfig } from './resolved.js';

/**
 * The config's sections other than `tasks`, one function each. Each records its problems and
 * returns what it could resolve (defaults where a value is wrong), so the caller can go on.
 */

/** `schedules`: each definition checked by beat's own rules, and its task known. */
export function resolveSchedulesSection(
  raw: unknown,
  taskNames: readonly string[],
  payloadLimit: unknown,
  problems: Problems,
): ResolvedConfig['schedules'] {
  const schedules = raw ?? {};
  if (typeof schedules !== 'object' || Array.isArray(schedules)) {
    problems.add('schedules', 'must be an object of { name: { task, cron | every } }');
    return (schedules && typeof schedules === 'object' ? schedules : {}) as ResolvedConfig['schedules'];
  }
  const limit = typeof payloadLimit === 'number' ? payloadLimit : undefined;
  for (const [name, s] of Object.entries(schedules as Record<string, unknown>)) {
    if (!s || typeof s !== 'object') {
      problems.add(`schedules.${name}`, 'must be { task, cron | every }');
      continue;
    }
    const task = (s as { task?: unknown }).task;
    if (typeof task !== 'string' || !taskNames.includes(task)) {
      problems.add(`schedules.${name}.task`, `"${String(task)}" is not a defined task (defined: ${taskNames.join(', ') || 'none'})`);
    }
    for (const p of scheduleProblems(name, s, { payloadLimit: limit })) problems.add(p.key, p.message);
  }
  return schedules as ResolvedConfig['schedules'];
}

/** `timezone`: an IANA zone; the system's when not given. */
export function resolveTimezone(raw: unknown, problems: Problems): string {
  const system = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (raw === undefined) return system;
  if (typeof raw === 'string' && isTimeZone(raw)) return raw;
  problems.add('timezone', `"${String(raw)}" is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')`);
  return system;
}

/** `media`, `redis`, `db`, `prefix`: non-empty strings (paths and URLs are resolved later); `redis` may be a section. */
export function resolveLocations(config: TqConfig & Record<string, unknown>, problems: Problems) {
  const media = problems.nonEmptyString('media', config.media) ?? 'media';
  const { url: redis, allowEviction } = resolveRedis(config.redis, problems);
  return {
    media,
    redis,
    allowEviction,
    db: problems.nonEmptyString('db', config.db),
    prefix: problems.nonEmptyString('prefix', config.prefix),
  };
}

/** `history`: retention, redacted payload keys, the run-event stream's length. */
export function resolveHistory(raw: TqConfig['history'], problems: Problems): ResolvedConfig['history'] {
  const history = raw ?? {};
  const redactKeys = history.redact ?? [];
  const redactOk = Array.isArray(redactKeys) && redactKeys.every((k) => typeof k === 'string');
  if (!redactOk) problems.add('history.redact', "must be an array of payload keys, e.g. ['password', 'token']");
  return {
    keepMs: problems.duration('history.keep', history.keep),
    redact: Array.isArray(redactKeys) ? redactKeys : [],
    streamMaxLen: problems.positiveInt('history.streamMaxLen', history.streamMaxLen) ?? 100_000,
    reconcileAfterMs: problems.duration('history.reconcileAfter', history.reconcileAfter) ?? 60_000,
  };
}

const REDIS_KEYS = new Set(['url', 'allowEviction']);

/** `redis`: the URL, or `{ url?, allowEviction? }`. */
function resolveRedis(raw: unknown, problems: Problems): { url: string | undefined; allowEviction: boolean } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { url: problems.nonEmptyString('redis', raw), allowEviction: false };
  const section = raw as Record<string, unknown>;
  for (const key of Object.keys(section)) {
    if (!REDIS_KEYS.has(key)) problems.add(`redis.${key}`, `unknown key (allowed: ${[...REDIS_KEYS].join(', ')})`);
  }
  const allow = section.allowEviction;
  if (allow !== undefined && typeof allow !== 'boolean') problems.add('redis.allowEviction', 'must be true or false');
  return { url: problems.nonEmptyString('redis.url', section.url), allowEviction: allow === true };
}

/** `payloadLimit`: the most bytes of JSON a payload may take. */
export function resolvePayloadLimit(raw: unknown, problems: Problems): number {
  return problems.positiveInt('payloadLimit', raw) ?? DEFAULT_PAYLOAD_LIMIT;
}

/** `resultLimit`: the most bytes of JSON a handler's result may take. */
export function resolveResultLimit(raw: unknown, problems: Problems): number {
  return problems.positiveInt('resultLimit', raw) ?? DEFAULT_RESULT_LIMIT;
}

/** `worker`: the defaults of every worker process of this app. */
export function resolveWorker(raw: TqConfig['worker'], problems: Problems): ResolvedConfig['worker'] {
  const worker = raw ?? {};
  return {
    concurrency: problems.positiveInt('worker.concurrency', worker.concurrency) ?? 1,
    shutdownTimeoutMs: problems.duration('worker.shutdownTimeout', worker.shutdownTimeout) ?? 30_000,
    unknownTaskGraceMs: problems.duration('worker.unknownTaskGrace', worker.unknownTaskGrace) ?? 5 * 60_000,
    maxZombies: problems.positiveInt('worker.maxZombies', worker.maxZombies, true) ?? 3,
    lockDurationMs: problems.duration('worker.lockDuration', worker.lockDuration) ?? 20_000,
    stalledIntervalMs: problems.duration('worker.stalledInterval', worker.stalledInterval) ?? 10_000,
    maxStalledCount: problems.positiveInt('worker.maxStalledCount', worker.maxStalledCount) ?? 20,
    maxBlockedMs: problems.duration('worker.maxBlocked', worker.maxBlocked) ?? 5 * 60_000,
    maxClockOffsetMs:
      worker.maxClockOffset === false
        ? Number.POSITIVE_INFINITY
        : (problems.duration('worker.maxClockOffset', worker.maxClockOffset) ?? DEFAULT_MAX_CLOCK_OFFSET_MS),
  };
}
