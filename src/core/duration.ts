import ms from 'ms';
import { UsageError } from './errors.js';

/**
 * Parses a human duration (`90s`, `5m`, `1h`, `30d`, `1.5h`, `250ms`) into milliseconds.
 *
 * The rule, the same for every flag and config key: text needs a unit, a number is
 * milliseconds. A bare number in text (`--delay 5`) is refused with a hint, because Celery's
 * `countdown=5` means seconds and the flag meaning milliseconds would pass silently; `"0"` is
 * accepted (zero is zero in any unit). A JavaScript number (`lockDuration: 2000` in the config,
 * `{ delay: 500 }` in the API) is milliseconds, as everywhere in Node.
 * Throws a `UsageError` naming `what` when the value is not a duration.
 */
export function parseDuration(value: string | number, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new UsageError(`${what}: ${value} is not a duration (use e.g. 90s, 5m, 1h, 30d)`);
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    if (n === 0) return 0;
    throw new UsageError(`${what} "${text}" needs a unit: ${text}s? ${n * 1000}ms?`);
  }
  const parsed = /^\d+(\.\d+)?\s*[a-zA-Z]+$/.test(text) ? ms(text as ms.StringValue) : undefined;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    throw new UsageError(`${what}: "${value}" is not a duration (use e.g. 90s, 5m, 1h, 30d)`);
  }
  return parsed;
}

/** Short human form of a duration in ms: `0.21s`, `3.4s`, `2m 5s`, `1h 2m`. */
export function formatDuration(msValue: number): string {
  if (!Number.isFinite(msValue)) return '-';
  // Round first, then pick the unit, so 59.99 s reads "1m 0s", not "60.0s".
  if (msValue < 1000) return `${(msValue / 1000).toFixed(2)}s`;
  if (Math.round(msValue / 100) < 600) return `${(msValue / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(msValue / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return h > 0 ? `${h}h ${m}m` : `${m}m ${s}s`;
}

/** Human form of a byte count: `812 B`, `45.1 KB`, `2.3 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (Math.round((bytes / 1024) * 10) < 1024 * 10) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
