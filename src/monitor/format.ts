import { formatBytes, formatDuration } from '../core/duration.js';

/** Short texts for the monitor's cells; every one answers `-` for "unknown". */

/** `3s`, `5m`, `2h`, `4d`. */
export function ageText(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Local `HH:MM:SS` (the monitor shows what is happening today). */
export function clockText(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  return new Date(ms).toTimeString().slice(0, 8);
}

/** Local date and time, for the detail view, where runs may be days old. */
export function dateTimeText(ms: number | null | undefined, now: number): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const d = new Date(ms);
  const time = d.toTimeString().slice(0, 8);
  return d.toDateString() === new Date(now).toDateString() ? time : `${d.toISOString().slice(0, 10)} ${time}`;
}

export function durationText(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : formatDuration(ms);
}

export function bytesText(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined || !Number.isFinite(bytes) ? '-' : formatBytes(bytes);
}

/** A count that fits a narrow column: 1234 -> `1234`, 123456 -> `123k`, 12345678 -> `12.3M`. */
export function countText(n: number): string {
  if (n < 100_000) return String(n);
  if (n < 10_000_000) return `${Math.round(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** Runs per second: `0`, `0.3/s`, `12/s`. */
export function rateText(perSecond: number): string {
  if (perSecond <= 0) return '0/s';
  return perSecond < 10 ? `${perSecond.toFixed(1)}/s` : `${Math.round(perSecond)}/s`;
}

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/**
 * One character per value, height relative to the largest; zero is a space-like low dot so an
 * idle minute is visible as idle, not missing.
 */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values
    .map((v) => {
      if (v <= 0 || max === 0) return '·';
      const i = Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1) + 0.5));
      return BARS[Math.max(0, i)]!;
    })
    .join('');
}

/** A progress bar for a 0..100 value; undefined when the progress is not a number. */
export function progressBar(progress: unknown, width: number): string | undefined {
  const value =
    typeof progress === 'number'
      ? progress
      : progress !== null && typeof progress === 'object' && typeof (progress as { percent?: unknown }).percent === 'number'
        ? (progress as { percent: number }).percent
        : undefined;
  if (value === undefined || !Number.isFinite(value)) return undefined;
  const pct = Math.max(0, Math.min(100, value));
  const filled = Math.round((pct / 100) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${Math.round(pct)}%`;
}
