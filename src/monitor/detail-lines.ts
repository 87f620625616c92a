import { dateTimeText, durationText, progressBar } from './format.js';
import { clean } from './layout.js';
import type { RunDetailData } from './state.js';

/**
 * The detail view's text as lines of toned segments. Pure, so the key handling can tell how
 * far the view scrolls and the component only maps tones to colours.
 */
export type Tone = 'label' | 'dim' | 'error' | 'warn' | 'good' | 'accent' | 'heading';

export interface Segment {
  text: string;
  tone?: Tone | undefined;
}

export type Line = Segment[];

const LABEL = 10;
/** Lines of a payload or result shown before the rest is cut (`tq inspect task --json` has all). */
const MAX_VALUE_LINES = 40;

export function stateTone(state: string): Tone | undefined {
  switch (state) {
    case 'completed':
      return 'good';
    case 'failed':
      return 'error';
    case 'retrying':
    case 'cancelled':
    case 'expired':
    case 'lost':
      return 'warn';
    case 'active':
      return 'accent';
    default:
      return 'dim';
  }
}

/** Splits text into lines of at most `width` characters (hard wrap; tabs and controls cleaned). */
export function wrapText(text: string, width: number): string[] {
  const out: string[] = [];
  const w = Math.max(8, width);
  for (const raw of text.split('\n')) {
    const chars = Array.from(clean(raw.replace(/\t/g, '  ')));
    if (chars.length === 0) out.push('');
    for (let i = 0; i < chars.length; i += w) out.push(chars.slice(i, i + w).join(''));
  }
  return out;
}

function field(label: string, value: Line | string): Line {
  const rest = typeof value === 'string' ? [{ text: value }] : value;
  return [{ text: label.padEnd(LABEL), tone: 'label' }, ...rest];
}

function block(label: string, text: string, width: number, tone?: Tone): Line[] {
  let lines = wrapText(text, width - LABEL);
  if (lines.length > MAX_VALUE_LINES)
    lines = [...lines.slice(0, MAX_VALUE_LINES), `… ${lines.length - MAX_VALUE_LINES} more line(s) (tq inspect task <id> --json)`];
  return lines.map((l, i) => [
    { text: (i === 0 ? label : '').padEnd(LABEL), tone: 'label' as const },
    { text: l, tone },
  ]);
}

const pretty = (value: unknown) => {
  try {
    return JSON.stringify(value, null, 2) ?? 'null';
  } catch {
    return String(value);
  }
};

export function detailLines(d: RunDetailData, width: number, now: number): Line[] {
  const lines: Line[] = [];
  lines.push(
    field('run', [
      { text: d.id, tone: 'heading' },
      { text: d.source === 'redis' ? '  (live in Redis)' : '  (from history; Redis no longer has it)', tone: 'dim' },
    ]),
  );
  lines.push(field('task', `${d.task} on queue ${d.queue}`));
  lines.push(
    field('state', [
      { text: d.state, tone: stateTone(d.state) },
      { text: `   attempt ${d.attempt}   worker ${d.worker ?? '-'}` },
      ...(d.dueAt !== null ? [{ text: `   next at ${dateTimeText(d.dueAt, now)}`, tone: 'warn' as const }] : []),
    ]),
  );
  const times = [
    `enqueued ${dateTimeText(d.enqueuedAt, now)}`,
    `started ${dateTimeText(d.startedAt, now)}`,
    `finished ${dateTimeText(d.finishedAt, now)}`,
    ...(d.runtimeMs !== null
      ? [`ran ${durationText(d.runtimeMs)}`]
      : d.startedAt !== null && d.finishedAt === null
        ? [`running ${durationText(now - d.startedAt)}`]
        : []),
  ];
  lines.push(...block('times', times.join(' · '), width));
  // BullMQ starts every run at progress 0: only a run that is running or reported something has one.
  if (d.progress !== null && d.progress !== undefined && (d.progress !== 0 || d.state === 'active')) {
    const bar = progressBar(d.progress, Math.max(10, Math.min(40, width - LABEL - 6)));
    lines.push(...(bar ? [field('progress', [{ text: bar, tone: 'accent' }])] : block('progress', JSON.stringify(d.progress), width)));
  }
  lines.push(...block('payload', pretty(d.payload), width));
  if (d.state === 'completed') lines.push(...block('result', pretty(d.result), width, 'good'));
  if (d.error) lines.push(...block('error', d.error, width, 'error'));
  if (d.errors.length > 1 || (d.errors.length === 1 && d.errors[0]!.error !== d.error)) {
    lines.push(field('attempts', ''));
    for (const e of d.errors) lines.push(...block(`  #${e.attempt}`, `${dateTimeText(Date.parse(e.at), now)}  ${e.error}`, width, 'warn'));
  }
  if (d.stack) {
    lines.push(field('stack', ''));
    for (const l of wrapText(d.stack, width - 2)) lines.push([{ text: `  ${l}`, tone: 'dim' }]);
  }
  lines.push(field(`logs`, d.logs.length ? `${d.logs.length} line(s)` : '(none)'));
  for (const l of d.logs) for (const w of wrapText(l, width - 2)) lines.push([{ text: `  ${w}` }]);
  return lines;
}
