import { UsageError } from '../core/errors.js';
import { isPriority, isQueueName, PRIORITY_RULE, QUEUE_NAME_RULE } from '../core/names.js';
import { parseRateLimit } from '../core/rate.js';
import { isStandardSchema } from '../core/schema.js';
import { DEFAULT_QUEUE, TASK_OPTION_KEYS, type TaskDefinition } from '../core/task.js';
import { describe, type Problems } from './problems.js';
import type { ResolvedTask } from './resolved.js';

const TASK_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
/** Keys of a task definition: its handler and hooks, and every task option. */
const TASK_KEYS = new Set(['run', 'fromArgs', ...TASK_OPTION_KEYS, 'warmup']);

/** A task's own options resolved; the config-wide values it carries are added by the caller. */
export type ResolvedTaskOptions = Omit<ResolvedTask, 'resultLimit'>;

/** The `tasks` section: every well-formed task resolved, every problem recorded. */
export function resolveTasks(raw: unknown, problems: Problems): Map<string, ResolvedTaskOptions> {
  const tasks = new Map<string, ResolvedTaskOptions>();
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.add('tasks', 'required: an object of task definitions, e.g. { hello: defineTask({ run }) }');
    return tasks;
  }
  for (const [name, value] of Object.entries(raw)) {
    const task = resolveTask(name, value, problems);
    if (task) tasks.set(name, task);
  }
  if (Object.keys(raw).length === 0) problems.add('tasks', 'define at least one task');
  return tasks;
}

/** One task; undefined when it is not a task definition at all (its other options are not checked then). */
function resolveTask(name: string, value: unknown, problems: Problems): ResolvedTaskOptions | undefined {
  const key = `tasks.${name}`;
  if (!TASK_NAME.test(name)) {
    problems.add(key, 'task names start with a letter and use letters, digits, _ . - (at most 100)');
    return undefined;
  }
  if (!value || typeof value !== 'object' || typeof (value as TaskDefinition).run !== 'function') {
    problems.add(key, 'must be a task definition with a run(payload, ctx) function (use defineTask)');
    return undefined;
  }
  const def = value as TaskDefinition;
  for (const k of Object.keys(def)) {
    if (!TASK_KEYS.has(k)) problems.add(`${key}.${k}`, `unknown option (allowed: ${[...TASK_KEYS].join(', ')})`);
  }
  const queue = def.queue ?? DEFAULT_QUEUE;
  if (!isQueueName(queue)) problems.add(`${key}.queue`, `must be a queue name of ${QUEUE_NAME_RULE} (got ${describe(queue)})`);
  const attempts = problems.positiveInt(`${key}.attempts`, def.attempts) ?? 1;
  const backoff = resolveBackoff(key, def.backoff, problems);
  checkFunctions(key, def, problems);
  const priority = def.priority;
  if (priority !== undefined && !isPriority(priority))
    problems.add(`${key}.priority`, `must be ${PRIORITY_RULE} (got ${describe(priority)})`);
  const args = def.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string' && a.length > 0)) {
    problems.add(`${key}.args`, `must be an array of payload key names, e.g. ['name'] (got ${describe(args)})`);
  }
  const rateLimit = resolveRateLimit(key, def.rateLimit, problems);
  const dedupe = resolveDedupe(key, def.dedupe, problems);
  if (def.schema !== undefined && !isStandardSchema(def.schema)) {
    problems.add(`${key}.schema`, 'must be a Standard Schema validator (zod, valibot, arktype, ...)');
  }
  if (def.isolate !== undefined && typeof def.isolate !== 'boolean') problems.add(`${key}.isolate`, 'must be true or false');
  return {
    name,
    definition: def,
    queue,
    attempts,
    backoff,
    timeoutMs: problems.duration(`${key}.timeout`, def.timeout),
    priority: typeof priority === 'number' ? priority : undefined,
    expiresMs: problems.duration(`${key}.expires`, def.expires),
    keep: problems.positiveInt(`${key}.keep`, def.keep, true),
    args: Array.isArray(args) ? args : [],
    description: typeof def.description === 'string' ? def.description : undefined,
    rateLimit,
    dedupe,
    schema: isStandardSchema(def.schema) ? def.schema : undefined,
    isolate: def.isolate === true,
  };
}

function resolveBackoff(key: string, b: TaskDefinition['backoff'], problems: Problems): ResolvedTask['backoff'] {
  if (b === undefined) return undefined;
  if (!b || typeof b !== 'object' || (b.type !== 'exponential' && b.type !== 'fixed')) {
    problems.add(`${key}.backoff`, "must be { type: 'exponential' | 'fixed', delay: '5s', jitter?: 0..1, maxDelay?: '10m' }");
    return undefined;
  }
  const delay = problems.duration(`${key}.backoff.delay`, b.delay) ?? 0;
  const maxDelay = problems.duration(`${key}.backoff.maxDelay`, b.maxDelay);
  if (b.jitter !== undefined && (typeof b.jitter !== 'number' || b.jitter < 0 || b.jitter > 1)) {
    problems.add(`${key}.backoff.jitter`, `must be a number from 0 to 1 (got ${describe(b.jitter)})`);
  }
  return { type: b.type, delay, ...(maxDelay !== undefined ? { maxDelay } : {}), ...(b.jitter !== undefined ? { jitter: b.jitter } : {}) };
}

/** The options that are callbacks. */
function checkFunctions(key: string, def: TaskDefinition, problems: Problems): void {
  if (def.retryOn !== undefined && typeof def.retryOn !== 'function') problems.add(`${key}.retryOn`, 'must be a function (err) => boolean');
  if (def.fromArgs !== undefined && typeof def.fromArgs !== 'function') problems.add(`${key}.fromArgs`, 'must be a function');
  if (def.warmup !== undefined && typeof def.warmup !== 'function') problems.add(`${key}.warmup`, 'must be a function');
}

function resolveRateLimit(key: string, value: TaskDefinition['rateLimit'], problems: Problems): ResolvedTask['rateLimit'] {
  if (value === undefined) return undefined;
  try {
    return parseRateLimit(value, `${key}.rateLimit`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    problems.add(`${key}.rateLimit`, `must be a rate such as '10/s', '100/m', '1000/h' (got ${describe(value)})`);
    return undefined;
  }
}

function resolveDedupe(key: string, value: TaskDefinition['dedupe'], problems: Problems): ResolvedTask['dedupe'] {
  if (value === undefined) return undefined;
  if (!value || typeof value.key !== 'function') {
    problems.add(`${key}.dedupe`, "must be { key: (payload) => string, ttl?: '10m' }");
    return undefined;
  }
  return { key: value.key, ttlMs: problems.duration(`${key}.dedupe.ttl`, value.ttl) };
}
