import Table from 'cli-table3';
import type { Output } from './output.js';

/** A borderless table for terminal output (plain text when not a TTY or with NO_COLOR). */
export function table(out: Output, head: string[], rows: (string | number)[][]): string {
  const t = new Table({
    head: head.map((h) => out.color.bold(h)),
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const r of rows) t.push(r.map(String));
  return t.toString().replace(/[ \t]+$/gm, '');
}

/** `3s`, `5m`, `2h`, `4d`: a compact age. */
export function age(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Local `HH:MM:SS`, with the date when it is not today. */
export function when(isoTime: string | null | undefined, now = new Date()): string {
  if (!isoTime) return '-';
  const d = new Date(isoTime);
  const time = d.toTimeString().slice(0, 8);
  return d.toDateString() === now.toDateString() ? time : `${d.toISOString().slice(0, 10)} ${time}`;
}
