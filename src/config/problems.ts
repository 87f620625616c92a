import { parseDuration } from '../core/duration.js';
import { errorMessage, UsageError } from '../core/errors.js';

/**
 * The problems found in a config so far, and the checks of single values that add to it. Every
 * check records what is wrong and carries on (returning `undefined`), so validation reports every
 * problem of a file at once instead of stopping at the first.
 */
export class Problems {
  readonly list: string[] = [];

  /** Records that `key` (a dotted path such as `tasks.resize.timeout`) is wrong, and why. */
  add(key: string, message: string): void {
    this.list.push(`${key}: ${message}`);
  }

  /** A duration (`'30s'`, `'5m'`, or ms) in ms. */
  duration(key: string, value: unknown): number | undefined {
    if (value === undefined) return undefined;
    const problem = `must be a duration such as '30s', '5m', '1h' (got ${describe(value)})`;
    if (typeof value !== 'string' && typeof value !== 'number') {
      this.add(key, problem);
      return undefined;
    }
    try {
      return parseDuration(value, key);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      this.add(key, problem);
      return undefined;
    }
  }

  /** A positive integer (or non-negative with `allowZero`). */
  positiveInt(key: string, value: unknown, allowZero = false): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
      this.add(key, `must be a ${allowZero ? 'non-negative' : 'positive'} integer (got ${describe(value)})`);
      return undefined;
    }
    return value;
  }

  /** A non-empty string. */
  nonEmptyString(key: string, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length === 0) {
      this.add(key, `must be a non-empty string (got ${describe(value)})`);
      return undefined;
    }
    return value;
  }
}

/** A value as a config author wrote it, for messages (`"soon"`, `0`, `{}`). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (err) {
    return errorMessage(err);
  }
}
