import { Chalk, type ChalkInstance } from 'chalk';
import type { TaskState } from '../core/states.js';
import { errorMessage, TqError } from '../core/errors.js';

/** Where a command writes: results on stdout, diagnostics on stderr; colour only on a TTY. */
export interface Output {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** stdout is a terminal (tables, spinners, progress bars). */
  readonly tty: boolean;
  /** stderr is a terminal (progress on stderr). */
  readonly errTty: boolean;
  readonly color: ChalkInstance;
  /** A line on stdout. */
  print(line?: string): void;
  /** One JSON document on stdout. */
  json(value: unknown): void;
  /** A diagnostic line on stderr. */
  info(line: string): void;
  warn(line: string): void;
}

export function createOutput(env: Readonly<Record<string, string | undefined>> = process.env): Output {
  const stdout = process.stdout;
  const stderr = process.stderr;
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  const tty = Boolean(stdout.isTTY);
  const errTty = Boolean(stderr.isTTY);
  const color = new Chalk({ level: tty && !noColor ? 1 : 0 });
  const errColor = new Chalk({ level: errTty && !noColor ? 1 : 0 });
  return {
    stdout,
    stderr,
    tty,
    errTty,
    color,
    print: (line = '') => stdout.write(`${line}\n`),
    json: (value) => stdout.write(`${jsonText(value, 2)}\n`),
    info: (line) => stderr.write(`${line}\n`),
    warn: (line) => stderr.write(`${errColor.yellow('warning:')} ${line}\n`),
  };
}

export function colorState(color: ChalkInstance, state: TaskState | string): string {
  switch (state) {
    case 'completed':
      return color.green(state);
    case 'failed':
      return color.red(state);
    case 'retrying':
    case 'expired':
    case 'cancelled':
    case 'lost':
      return color.yellow(state);
    case 'active':
      return color.cyan(state);
    default:
      return color.dim(state);
  }
}

/** A short, recognisable form of a run id for log lines (ids share their time prefix). */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(-6) : id;
}

/** A value squeezed onto one line for logs. */
export function oneLine(value: unknown, max = 120): string {
  const text = jsonText(value) ?? 'null';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function clock(date = new Date()): string {
  return date.toTimeString().slice(0, 8);
}

/** How deep a value is shown when it is too deep to print whole. */
export const SHOWN_DEPTH = 64;

/**
 * `JSON.stringify` for values read from Redis or history, which any producer may have nested
 * deeper than `JSON.stringify` can recurse (it throws `Maximum call stack size exceeded`): such
 * a value is shown to `SHOWN_DEPTH` levels, with a note where it was cut.
 */
export function jsonText(value: unknown, space?: number): string {
  try {
    return JSON.stringify(value, null, space);
  } catch (err) {
    // Only the stack overflow of a deep value is expected; a cycle or a BigInt is a bug.
    if (!(err instanceof RangeError)) throw err;
    return JSON.stringify(cutAt(value, SHOWN_DEPTH), null, space);
  }
}

function cutAt(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth === 0) return `… (nested more than ${SHOWN_DEPTH} levels deep: not shown)`;
  if (Array.isArray(value)) return value.map((v) => cutAt(v, depth - 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = cutAt(v, depth - 1);
  return out;
}

/** The `--json` form of a failure: `{ "error": { "code", "message", "hint" } }`. */
export function errorDocument(err: unknown): { error: { code: string; message: string; hint: string | null } } {
  if (err instanceof TqError) return { error: { code: err.code, message: err.message, hint: err.hint ?? null } };
  return { error: { code: 'E_INTERNAL', message: errorMessage(err), hint: 'run with --debug for the stack' } };
}

/**
 * Runs a command body; with `--json`, a failure also prints its error document on stdout (the
 * one-line diagnostic and the exit code stay the entry point's), so a script reading stdout
 * always gets one JSON document.
 */
export async function jsonErrors<T>(out: Output, json: boolean | undefined, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (json && !(err instanceof Object && inDocument.has(err))) {
      out.json(errorDocument(err));
      // A wrapper around this one must not print it again.
      if (err instanceof Object) inDocument.add(err);
    }
    throw err;
  }
}

/** Failures whose error a command already put into the document it printed. */
const inDocument = new WeakSet<object>();

/** Whether `err` is already inside a printed `--json` document (the entry point must not print it again). */
export function isInDocument(err: unknown): boolean {
  return err instanceof Object && inDocument.has(err);
}

/** Marks `err` as already inside the printed `--json` document (see `jsonErrors`); returns it. */
export function alreadyInDocument<E extends object>(err: E): E {
  inDocument.add(err);
  return err;
}
