import path from 'node:path';
// The checks beat resolves with, so validation and dispatch can never disagree.
import { scheduleProblems } from '../beat/schedule.js';
import { parseDuration } from '../core/duration.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { DEFAULT_PAYLOAD_LIMIT } from '../core/json.js';
import { parseRateLimit } from '../core/rate.js';
import { isStandardSchema } from '../core/schema.js';
import { DEFAULT_QUEUE, type TaskDefinition, type TqConfig } from '../core/task.js';
import type { ResolvedConfig, ResolvedTask } from './resolved.js';

const TASK_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const TOP_KEYS = new Set(['tasks', 'schedules', 'timezone', 'media', 'redis', 'db', 'prefix', 'history', 'payloadLimit', 'worker']);
const TASK_KEYS = new Set([
  'run', 'fromArgs', 'queue', 'attempts', 'backoff', 'retryOn', 'timeout', 'isolate', 'rateLimit', 'priority',
  'expires', 'dedupe', 'schema', 'args', 'keep', 'description', 'warmup',
]);

/**
 * Validates a loaded config and resolves it (durations to ms, paths to absolute, defaults).
 * Every problem is collected and reported at once, each naming its key and what is allowed.
 */
export function resolveConfig(raw: unknown, file: string | undefined, dir: string): ResolvedConfig {
  const where = file ? path.relative(process.cwd(), file) || file : 'config';
  const problems: string[] = [];
  const add = (key: string, message: string) => problems.push(`${key}: ${message}`);

  if (!raw || typeof raw !== 'object') {
    throw new ConfigError(`${where}: the default export must be defineConfig({ tasks: { ... } })`, [], {
      hint: "export default defineConfig({ tasks: { hello: defineTask({ run: () => 'hi' }) } })",
    });
  }
  const config = raw as TqConfig & Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (!TOP_KEYS.has(key)) add(key, `unknown key (allowed: ${[...TOP_KEYS].join(', ')})`);
  }

  const duration = (key: string, value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') {
      add(key, `must be a duration such as '30s', '5m', '1h' (got ${describe(value)})`);
      return undefined;
    }
    try {
      return parseDuration(value, key);
    } catch {
      add(key, `must be a duration such as '30s', '5m', '1h' (got ${describe(value)})`);
      return undefined;
    }
  };
  const positiveInt = (key: string, value: unknown, allowZero = false): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
      add(key, `must be a ${allowZero ? 'non-negative' : 'positive'} integer (got ${describe(value)})`);
      return undefined;
    }
    return value;
  };

  const tasks = new Map<string, ResolvedTask>();
  if (!config.tasks || typeof config.tasks !== 'object' || Array.isArray(config.tasks)) {
    add('tasks', 'required: an object of task definitions, e.g. { hello: defineTask({ run }) }');
  } else {
    for (const [name, value] of Object.entries(config.tasks)) {
      const key = `tasks.${name}`;
      if (!TASK_NAME.test(name)) {
        add(key, 'task names start with a letter and use letters, digits, _ . - (at most 100)');
        continue;
      }
      if (!value || typeof value !== 'object' || typeof (value as TaskDefinition).run !== 'function') {
        add(key, 'must be a task definition with a run(payload, ctx) function (use defineTask)');
        continue;
      }
      const def = value as TaskDefinition;
      for (const k of Object.keys(def)) {
        if (!TASK_KEYS.has(k)) add(`${key}.${k}`, `unknown option (allowed: ${[...TASK_KEYS].join(', ')})`);
      }
      const queue = def.queue ?? DEFAULT_QUEUE;
      if (typeof queue !== 'string' || !QUEUE_NAME.test(queue)) {
        add(`${key}.queue`, `must be a queue name of letters, digits, _ . - not starting with _ (got ${describe(queue)})`);
      }
      const attempts = positiveInt(`${key}.attempts`, def.attempts) ?? 1;
      let backoff: ResolvedTask['backoff'];
      if (def.backoff !== undefined) {
        const b = def.backoff;
        if (!b || typeof b !== 'object' || (b.type !== 'exponential' && b.type !== 'fixed')) {
          add(`${key}.backoff`, "must be { type: 'exponential' | 'fixed', delay: '5s', jitter?: 0..1, maxDelay?: '10m' }");
        } else {
          const delay = duration(`${key}.backoff.delay`, b.delay) ?? 0;
          const maxDelay = duration(`${key}.backoff.maxDelay`, b.maxDelay);
          if (b.jitter !== undefined && (typeof b.jitter !== 'number' || b.jitter < 0 || b.jitter > 1)) {
            add(`${key}.backoff.jitter`, `must be a number from 0 to 1 (got ${describe(b.jitter)})`);
          }
          backoff = { type: b.type, delay, ...(maxDelay !== undefined ? { maxDelay } : {}), ...(b.jitter !== undefined ? { jitter: b.jitter } : {}) };
        }
      }
      if (def.retryOn !== undefined && typeof def.retryOn !== 'function') add(`${key}.retryOn`, 'must be a function (err) => boolean');
      if (def.fromArgs !== undefined && typeof def.fromArgs !== 'function') add(`${key}.fromArgs`, 'must be a function');
      if (def.warmup !== undefined && typeof def.warmup !== 'function') add(`${key}.warmup`, 'must be a function');
      const priority = def.priority;
      if (priority !== undefined && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 2_097_151)) {
        add(`${key}.priority`, `must be an integer from 0 to 2097151, lower runs first (got ${describe(priority)})`);
      }
      const args = def.args ?? [];
      if (!Array.isArray(args) || !args.every((a) => typeof a === 'string' && a.length > 0)) {
        add(`${key}.args`, `must be an array of payload key names, e.g. ['name'] (got ${describe(args)})`);
      }
      let rateLimit: ResolvedTask['rateLimit'];
      if (def.rateLimit !== undefined) {
        try {
          rateLimit = parseRateLimit(def.rateLimit, `${key}.rateLimit`);
        } catch {
          add(`${key}.rateLimit`, `must be a rate such as '10/s', '100/m', '1000/h' (got ${describe(def.rateLimit)})`);
        }
      }
      let dedupe: ResolvedTask['dedupe'];
      if (def.dedupe !== undefined) {
        if (!def.dedupe || typeof def.dedupe.key !== 'function') {
          add(`${key}.dedupe`, "must be { key: (payload) => string, ttl?: '10m' }");
        } else {
          dedupe = { key: def.dedupe.key, ttlMs: duration(`${key}.dedupe.ttl`, def.dedupe.ttl) };
        }
      }
      if (def.schema !== undefined && !isStandardSchema(def.schema)) {
        add(`${key}.schema`, 'must be a Standard Schema validator (zod, valibot, arktype, ...)');
      }
      if (def.isolate !== undefined && typeof def.isolate !== 'boolean') add(`${key}.isolate`, 'must be true or false');
      tasks.set(name, {
        name,
        definition: def,
        queue,
        attempts,
        backoff,
        timeoutMs: duration(`${key}.timeout`, def.timeout),
        priority: typeof priority === 'number' ? priority : undefined,
        expiresMs: duration(`${key}.expires`, def.expires),
        keep: positiveInt(`${key}.keep`, def.keep, true),
        args: Array.isArray(args) ? args : [],
        description: typeof def.description === 'string' ? def.description : undefined,
        rateLimit,
        dedupe,
        schema: isStandardSchema(def.schema) ? def.schema : undefined,
        isolate: def.isolate === true,
      });
    }
    if (Object.keys(config.tasks).length === 0) add('tasks', 'define at least one task');
  }

  const schedules = config.schedules ?? {};
  if (typeof schedules !== 'object' || Array.isArray(schedules)) {
    add('schedules', 'must be an object of { name: { task, cron | every } }');
  } else {
    for (const [name, s] of Object.entries(schedules)) {
      if (!s || typeof s !== 'object') {
        add(`schedules.${name}`, 'must be { task, cron | every }');
        continue;
      }
      if (typeof s.task !== 'string' || !tasks.has(s.task)) {
        add(`schedules.${name}.task`, `"${String(s.task)}" is not a defined task (defined: ${[...tasks.keys()].join(', ') || 'none'})`);
      }
      const payloadLimit = typeof config.payloadLimit === 'number' ? config.payloadLimit : undefined;
      for (const p of scheduleProblems(name, s, { payloadLimit })) add(p.key, p.message);
    }
  }

  let timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (config.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: config.timezone });
      timezone = config.timezone;
    } catch {
      add('timezone', `"${String(config.timezone)}" is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')`);
    }
  }

  const str = (key: string, value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length === 0) {
      add(key, `must be a non-empty string (got ${describe(value)})`);
      return undefined;
    }
    return value;
  };
  const media = str('media', config.media) ?? 'media';
  const redis = str('redis', config.redis);
  const db = str('db', config.db);
  const prefix = str('prefix', config.prefix);

  const history = config.history ?? {};
  const redactKeys = history.redact ?? [];
  if (!Array.isArray(redactKeys) || !redactKeys.every((k) => typeof k === 'string')) {
    add('history.redact', "must be an array of payload keys, e.g. ['password', 'token']");
  }
  const worker = config.worker ?? {};

  const resolved: ResolvedConfig = {
    file,
    dir,
    tasks,
    schedules: (schedules && typeof schedules === 'object' ? schedules : {}) as ResolvedConfig['schedules'],
    timezone,
    mediaDir: path.resolve(dir, media),
    history: {
      keepMs: duration('history.keep', history.keep),
      redact: Array.isArray(redactKeys) ? redactKeys : [],
      streamMaxLen: positiveInt('history.streamMaxLen', history.streamMaxLen) ?? 100_000,
    },
    payloadLimit: positiveInt('payloadLimit', config.payloadLimit) ?? DEFAULT_PAYLOAD_LIMIT,
    worker: {
      concurrency: positiveInt('worker.concurrency', worker.concurrency) ?? 1,
      shutdownTimeoutMs: duration('worker.shutdownTimeout', worker.shutdownTimeout) ?? 30_000,
      unknownTaskGraceMs: duration('worker.unknownTaskGrace', worker.unknownTaskGrace) ?? 5 * 60_000,
      maxZombies: positiveInt('worker.maxZombies', worker.maxZombies, true) ?? 3,
      lockDurationMs: duration('worker.lockDuration', worker.lockDuration) ?? 20_000,
      stalledIntervalMs: duration('worker.stalledInterval', worker.stalledInterval) ?? 10_000,
      maxStalledCount: positiveInt('worker.maxStalledCount', worker.maxStalledCount) ?? 20,
    },
    queues: [...new Set([...tasks.values()].map((t) => t.queue))].sort(),
    redis,
    db,
    prefix,
  };

  if (problems.length > 0) {
    const head = problems.length === 1 ? `${where}: ${problems[0]}` : `${where}: ${problems.length} problems:\n  ${problems.join('\n  ')}`;
    throw new ConfigError(head, problems);
  }
  return resolved;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (err) {
    return errorMessage(err);
  }
}
