/**
 * Schedule math, pure: validating and resolving schedule definitions, and the fire times of a
 * schedule. No I/O; the dispatch loop (`beat.ts`) and `tq beat --dry-run` build on it.
 *
 * Terminology
 * - fire time: an instant at which a schedule is due (epoch ms). Cron fire times are computed by
 *              cron-parser in the schedule's zone; `every` fire times are multiples of the
 *              period since the Unix epoch, so every beat process computes the same ones.
 * - cursor:    per schedule, the instant up to which every fire time has been dealt with
 *              (enqueued, or skipped by the missed-run policy). Kept in Redis and advanced with
 *              a compare-and-set, which is what stops two beats from firing the same time twice.
 * - spec:      the part of a definition that decides fire times (cron + zone, or the period);
 *              when it changes, the schedule starts over from now.
 */
import { CronExpressionParser } from 'cron-parser';
import { parseDuration } from '../core/duration.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { assertJsonPayload, DEFAULT_PAYLOAD_LIMIT } from '../core/json.js';
import { isPriority, isQueueName, isTimeZone, PRIORITY_RULE, QUEUE_NAME_RULE } from '../core/names.js';
import type { MissedPolicy, ScheduleDefinition } from '../core/task.js';
import { encodeScheduleName, MAX_ENCODED_NAME } from './run-id.js';

export const SCHEDULE_KEYS = ['task', 'cron', 'every', 'payload', 'queue', 'priority', 'tz', 'enabled', 'missed'] as const;
export const MISSED_POLICIES: readonly MissedPolicy[] = ['skip', 'latest', 'all'];
/** The `@` shorthands cron-parser understands. */
export const CRON_ALIASES = [
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@hourly',
  '@minutely',
  '@secondly',
  '@weekdays',
  '@weekends',
] as const;
const MIN_EVERY_MS = 1000;
const CRON_HELP = "5 fields 'minute hour day-of-month month day-of-week', 6 with leading seconds, or an alias such as @daily";

export type ScheduleTiming =
  { readonly kind: 'cron'; readonly cron: string } | { readonly kind: 'every'; readonly everyMs: number; readonly every: string };

/** A validated schedule with its zone and defaults applied. */
export interface ResolvedSchedule {
  readonly name: string;
  readonly task: string;
  readonly timing: ScheduleTiming;
  /** As people read it: the cron text (`0 3 * * *`, `@daily`) or `every 30s`. */
  readonly expression: string;
  /** IANA zone cron fields are read in (and times are shown in). */
  readonly zone: string;
  readonly payload: unknown;
  /** Overrides the task's queue when set. */
  readonly queue: string | undefined;
  readonly priority: number | undefined;
  readonly enabled: boolean;
  readonly missed: MissedPolicy;
  /** What decides the fire times; stored with the cursor so a changed definition starts over. */
  readonly spec: string;
}

export interface ScheduleProblem {
  /** Config key, e.g. `schedules.nightly.cron`. */
  key: string;
  message: string;
}

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
};

/** Cron text with its fields separated by single spaces. */
function normaliseCron(cron: string): string {
  return cron.trim().split(/\s+/).join(' ');
}

function parseCron(cron: string, zone: string, name: string, fromMs: number) {
  // A fixed hash seed: `H` fields must land on the same minute in every beat process.
  return CronExpressionParser.parse(cron, { currentDate: new Date(fromMs), tz: zone, hashSeed: name });
}

/** Why `cron` is not a usable expression, or undefined when it is. */
export function cronProblem(cron: string, name = ''): string | undefined {
  const text = normaliseCron(cron);
  if (text === '') return `is empty (use ${CRON_HELP})`;
  if (text.startsWith('@')) {
    if (!(CRON_ALIASES as readonly string[]).includes(text)) {
      return `"${cron}" is not a known alias (use one of ${CRON_ALIASES.join(', ')})`;
    }
  } else {
    const fields = text.split(' ').length;
    if (fields !== 5 && fields !== 6) return `"${cron}" has ${fields} field(s) (use ${CRON_HELP})`;
  }
  try {
    parseCron(text, 'UTC', name, Date.UTC(2026, 0, 1)).next();
  } catch (err) {
    return `"${cron}" is not a valid cron expression: ${errorMessage(err)} (use ${CRON_HELP})`;
  }
  return undefined;
}

/**
 * Everything wrong with one schedule definition, except whether its task exists (the config
 * validator knows the tasks). Each problem names its key and what is allowed.
 */
export function scheduleProblems(name: string, raw: unknown, options: { payloadLimit?: number } = {}): ScheduleProblem[] {
  const problems: ScheduleProblem[] = [];
  const base = `schedules.${name}`;
  const add = (key: string, message: string) => problems.push({ key: key ? `${base}.${key}` : base, message });
  if (name.length === 0) add('', 'schedule names must not be empty');
  else if (encodeScheduleName(name).length > MAX_ENCODED_NAME) {
    add(
      '',
      `the name is too long to make run ids from (at most ${MAX_ENCODED_NAME} letters, digits, _ . -; other characters count 3 per byte)`,
    );
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    add('', 'must be { task, cron | every, payload?, queue?, priority?, tz?, enabled?, missed? }');
    return problems;
  }
  const s = raw as ScheduleDefinition & Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (!(SCHEDULE_KEYS as readonly string[]).includes(key)) add(key, `unknown key (allowed: ${SCHEDULE_KEYS.join(', ')})`);
  }
  const hasCron = s.cron !== undefined;
  const hasEvery = s.every !== undefined;
  if (hasCron === hasEvery) {
    add('', hasCron ? 'has both cron and every; give exactly one' : "needs exactly one of cron ('0 3 * * *') or every ('30s')");
  }
  if (hasCron) {
    if (typeof s.cron !== 'string') add('cron', `must be a string such as '0 3 * * *' (got ${show(s.cron)})`);
    else {
      const problem = cronProblem(s.cron, name);
      if (problem) add('cron', problem);
    }
  }
  if (hasEvery) {
    const ms = everyMs(s.every);
    if (ms === undefined)
      add('every', `must be a duration of at least 1s in whole milliseconds, such as '30s', '5m', '1h' (got ${show(s.every)})`);
  }
  if (s.tz !== undefined && (typeof s.tz !== 'string' || !isTimeZone(s.tz))) {
    add('tz', `${show(s.tz)} is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')`);
  }
  if (s.missed !== undefined && !MISSED_POLICIES.includes(s.missed)) {
    add('missed', `must be one of 'skip', 'latest', 'all' (got ${show(s.missed)})`);
  }
  if (s.enabled !== undefined && typeof s.enabled !== 'boolean') add('enabled', `must be true or false (got ${show(s.enabled)})`);
  if (s.queue !== undefined && !isQueueName(s.queue)) {
    add('queue', `must be a queue name of ${QUEUE_NAME_RULE} (got ${show(s.queue)})`);
  }
  const p = s.priority;
  if (p !== undefined && !isPriority(p)) {
    add('priority', `must be ${PRIORITY_RULE} (got ${show(p)})`);
  }
  if (s.payload !== undefined) {
    try {
      assertJsonPayload(s.payload, `${base}.payload`, options.payloadLimit ?? DEFAULT_PAYLOAD_LIMIT);
    } catch (err) {
      add('payload', errorMessage(err).replace(`${base}.payload`, 'the payload'));
    }
  }
  return problems;
}

function everyMs(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  try {
    const ms = parseDuration(value, 'every');
    return Number.isInteger(ms) && ms >= MIN_EVERY_MS ? ms : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves one (already validated) definition; `defaultZone` is the config's `timezone`. */
export function resolveSchedule(name: string, def: ScheduleDefinition, defaultZone: string): ResolvedSchedule {
  const problems = scheduleProblems(name, def);
  if (problems.length > 0) {
    throw new ConfigError(
      `${problems[0]!.key}: ${problems[0]!.message}`,
      problems.map((p) => `${p.key}: ${p.message}`),
    );
  }
  const zone = def.tz ?? defaultZone;
  let timing: ScheduleTiming;
  let expression: string;
  let spec: string;
  if (def.cron !== undefined) {
    const cron = normaliseCron(def.cron);
    timing = { kind: 'cron', cron };
    expression = cron;
    spec = `cron ${cron} @ ${zone}`;
  } else {
    const ms = everyMs(def.every)!;
    const every = String(def.every).trim();
    timing = { kind: 'every', everyMs: ms, every };
    expression = `every ${every}`;
    // Epoch-aligned slots do not depend on the zone.
    spec = `every ${ms}ms`;
  }
  return {
    name,
    task: def.task,
    timing,
    expression,
    zone,
    payload: def.payload ?? {},
    queue: def.queue,
    priority: def.priority,
    enabled: def.enabled ?? true,
    missed: def.missed ?? 'latest',
    spec,
  };
}

/** Every schedule of a config, resolved, sorted by name. */
export function resolveSchedules(config: {
  readonly schedules: Readonly<Record<string, ScheduleDefinition>>;
  readonly timezone: string;
}): ResolvedSchedule[] {
  return Object.entries(config.schedules)
    .map(([name, def]) => resolveSchedule(name, def, config.timezone))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A generator of successive cron fire times strictly after `fromMs`; undefined when none is left. */
function cronWalker(s: ResolvedSchedule & { timing: { kind: 'cron' } }, fromMs: number): () => number | undefined {
  const expr = parseCron(s.timing.cron, s.zone, s.name, fromMs);
  return () => {
    try {
      return expr.next().getTime();
    } catch {
      // cron-parser throws past the last fire time an expression can ever have.
      return undefined;
    }
  };
}

/** The first fire time strictly after `afterMs`. */
export function nextFireAfter(s: ResolvedSchedule, afterMs: number): number | undefined {
  return nextFireTimes(s, afterMs, 1)[0];
}

/** The next `count` fire times strictly after `afterMs`. */
export function nextFireTimes(s: ResolvedSchedule, afterMs: number, count: number): number[] {
  const out: number[] = [];
  if (s.timing.kind === 'every') {
    const p = s.timing.everyMs;
    const first = Math.floor(afterMs / p) * p + p;
    for (let i = 0; i < count; i++) out.push(first + i * p);
    return out;
  }
  const next = cronWalker(s as ResolvedSchedule & { timing: { kind: 'cron' } }, afterMs);
  for (let i = 0; i < count; i++) {
    const t = next();
    if (t === undefined) break;
    out.push(t);
  }
  return out;
}

/** The fire times that are due: after the cursor, at or before now. */
export interface DueFireTimes {
  /** The latest due fire times, ascending; at most the `keep` asked for. */
  readonly times: readonly number[];
  /** How many fire times are due in all (a lower bound when `exact` is false). */
  readonly count: number;
  readonly exact: boolean;
  /** The first fire time after now; undefined when the expression has none left. */
  readonly next: number | undefined;
}

/**
 * Past this many fire times, walking forward from the cursor costs real time (cron-parser
 * takes ~30 µs a step), so the walk jumps to just before now.
 */
const MAX_WALK = 5000;

interface Walk {
  times: number[];
  count: number;
  /** The last fire time seen (≤ now); undefined when none was. */
  last: number | undefined;
  /** The first fire time after `until`, when the walk got that far. */
  next: number | undefined;
  /** True when the walk reached past `until` or the end of the expression. */
  done: boolean;
}

function walk(next: () => number | undefined, until: number, keep: number): Walk {
  const times: number[] = [];
  let count = 0;
  let last: number | undefined;
  while (count < MAX_WALK) {
    const t = next();
    if (t === undefined) return { times, count, last, next: undefined, done: true };
    if (t > until) return { times, count, last, next: t, done: true };
    count += 1;
    last = t;
    times.push(t);
    if (times.length > keep) times.shift();
  }
  return { times, count, last, next: undefined, done: false };
}

/**
 * The fire times in (cursor, now], keeping the latest `keep` of them. Cron fire times are only
 * ever walked forward with `next()`: cron-parser's `prev()` disagrees with `next()` around DST
 * changes, and the fire times must be the same whichever way a beat arrives at them.
 */
export function dueFireTimes(s: ResolvedSchedule, cursor: number, now: number, keep: number): DueFireTimes {
  if (s.timing.kind === 'every') {
    const p = s.timing.everyMs;
    const first = Math.floor(cursor / p) * p + p;
    const last = Math.floor(now / p) * p;
    const count = last >= first ? (last - first) / p + 1 : 0;
    const times: number[] = [];
    for (let t = Math.max(first, last - (keep - 1) * p); t <= last && count > 0; t += p) times.push(t);
    return { times, count, exact: true, next: last + p };
  }
  const cron = s as ResolvedSchedule & { timing: { kind: 'cron' } };
  const head = walk(cronWalker(cron, cursor), now, keep);
  if (head.done) return { times: head.times, count: head.count, exact: true, next: head.next };
  // Thousands of fire times behind: only the latest `keep` matter, so walk from a window before
  // now sized by how dense the fire times were, doubling it until it holds enough of them.
  const lastSeen = head.last!;
  const perFire = Math.max(1000, (lastSeen - cursor) / head.count);
  let window = perFire * (keep + 1) * 2;
  for (let attempt = 0; attempt < 40; attempt++) {
    const from = Math.max(lastSeen, now - window);
    const tail = walk(cronWalker(cron, from), now, keep);
    if (!tail.done) {
      // The density guess was far off: a window this wide still holds thousands of fire times.
      window /= 4;
      continue;
    }
    if (from === lastSeen) {
      const times = [...head.times, ...tail.times].slice(-keep);
      return { times, count: head.count + tail.count, exact: true, next: tail.next };
    }
    if (tail.times.length >= keep) {
      return { times: tail.times, count: head.count + tail.count, exact: false, next: tail.next };
    }
    window *= 2;
  }
  return { times: head.times, count: head.count, exact: false, next: nextFireAfter(s, now) };
}
