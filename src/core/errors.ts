/**
 * Expected failures are typed: a `TqError` carries a stable `code`, a one-line message, an
 * optional `hint` (what to do next) and the process exit code the CLI should use. Anything that
 * is not a `TqError` is a bug and keeps its stack.
 */
export type ExitCode = 0 | 1 | 2;

export interface TqErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class TqError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, exitCode: ExitCode, options: TqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = exitCode;
  }
}

/** Bad command line: unknown task, bad JSON, missing file, bad flag value. Exit 2. */
export class UsageError extends TqError {
  constructor(message: string, options: TqErrorOptions = {}) {
    super('E_USAGE', message, 2, options);
  }
}

/** `tasks.config.ts` is missing, does not load, or fails validation. Exit 2. */
export class ConfigError extends TqError {
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[] = [], options: TqErrorOptions = {}) {
    super('E_CONFIG', message, 2, options);
    this.problems = problems;
  }
}

/** Redis does not answer (or refused us). Exit 1. */
export class RedisUnavailableError extends TqError {
  constructor(message: string, options: TqErrorOptions = {}) {
    super('E_REDIS', message, 1, options);
  }
}

/** Something failed at run time that the user can act on (a task failed under --wait, ...). Exit 1. */
export class RuntimeError extends TqError {
  constructor(code: string, message: string, options: TqErrorOptions = {}) {
    super(code, message, 1, options);
  }
}

/** The SQLite file cannot be opened or is not a tq database. Exit 1. */
export class StoreError extends TqError {
  constructor(message: string, options: TqErrorOptions = {}) {
    super('E_STORE', message, 1, options);
  }
}

/**
 * Thrown by a task handler to fail the run at once, skipping any remaining attempts
 * (a corrupt image will not get better on a retry). The worker maps it onto BullMQ's
 * `UnrecoverableError`.
 */
export class FatalTaskError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FatalTaskError';
  }
}

/**
 * The message of anything thrown, for one-line reports. Never throws itself: handlers throw
 * strange things (an error whose `message` getter throws, a Symbol, an object without a
 * prototype), and the path that reports a failure must not become a second failure.
 */
export function errorMessage(err: unknown): string {
  try {
    if (err instanceof Error) {
      const message: unknown = err.message;
      return typeof message === 'string' ? message : describeThrown(message);
    }
    return describeThrown(err);
  } catch (getterErr) {
    return `an error whose message could not be read (${describeThrown(getterErr)})`;
  }
}

/**
 * `err` as an Error whose `message`, `name` and `stack` can be read: itself when they can (so
 * `instanceof` checks in `retryOn` still work), else a plain Error with the message
 * `errorMessage` makes of it. What reports a failure (BullMQ included) reads those fields, and a
 * getter that throws there would leave the run neither failed nor retried.
 */
export function readableError(err: unknown): Error {
  if (err instanceof Error) {
    try {
      const { message, name, stack } = err;
      if (typeof message === 'string' && typeof name === 'string' && (stack === undefined || typeof stack === 'string')) return err;
    } catch {
      // A field could not be read: the copy below is made from what can be.
    }
  }
  const copy = new Error(errorMessage(err));
  try {
    if (err instanceof Error && typeof err.name === 'string') copy.name = err.name;
  } catch {
    // The name getter throws too: the copy keeps "Error".
  }
  return copy;
}

/** `String(value)`, or its type tag when even that throws (a Symbol is fine; a hostile `toString` is not). */
function describeThrown(value: unknown): string {
  try {
    return String(value);
  } catch {
    // Describing is all this does: a value that cannot be turned into text is named by its tag.
    return Object.prototype.toString.call(value);
  }
}

/**
 * A history query (`inspect history --search`, the API's `q=`, the monitor's `/` filter) that
 * does not parse: names the token and what is allowed there. Exit 2 (a usage error).
 */
export class QueryError extends TqError {
  /** The token as typed (`stat:failed`), so a caller can point at it. */
  readonly token: string;
  constructor(token: string, message: string, options: TqErrorOptions = {}) {
    super('E_QUERY', message, 2, options);
    this.token = token;
  }
}
