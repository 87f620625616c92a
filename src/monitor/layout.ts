import { stripVTControlCharacters } from 'node:util';

/**
 * How the screen is divided, as a pure function of the terminal size and how much there is to
 * show. The view components and the key handling (page up/down, keeping the cursor visible)
 * both use it, so they always agree on how many rows a panel has.
 */
export interface ScreenLayout {
  /** Lines drawn in all (the frame is one line shorter than the terminal: see `frameHeight`). */
  height: number;
  queueRows: number;
  workerRows: number;
  runRows: number;
  /** Lines of the detail and help views' bodies. */
  bodyRows: number;
}

export const HEADER_LINES = 2;
export const STATUS_LINES = 1;
/** A panel's title line and its column-heading line. */
export const PANEL_CHROME = 2;
/** Runs a one-shot snapshot lists. */
export const SNAPSHOT_RUNS = 20;

/**
 * Ink redraws a frame that is shorter than the terminal by rewriting its lines; a frame that
 * fills the terminal makes it clear the whole screen on every update (flicker over SSH).
 */
export function frameHeight(terminalRows: number): number {
  return Math.max(1, terminalRows - 1);
}

/**
 * Panel heights for a live screen of `rows` terminal lines, or (rows undefined) the natural
 * heights of a one-shot snapshot.
 */
export function screenLayout(rows: number | undefined, counts: { queues: number; workers: number; runs: number }): ScreenLayout {
  const wantQueues = Math.max(1, counts.queues);
  const wantWorkers = Math.max(1, counts.workers);
  if (rows === undefined) {
    const runRows = Math.max(1, Math.min(counts.runs, SNAPSHOT_RUNS));
    return {
      height: HEADER_LINES + 3 * PANEL_CHROME + wantQueues + wantWorkers + runRows,
      queueRows: wantQueues,
      workerRows: wantWorkers,
      runRows,
      bodyRows: 40,
    };
  }
  const height = frameHeight(rows);
  const dataRows = Math.max(3, height - HEADER_LINES - STATUS_LINES - 3 * PANEL_CHROME);
  // Queues and workers get what they need up to a share of the screen; runs get the rest.
  const queueRows = Math.min(wantQueues, Math.max(1, Math.floor(dataRows * 0.3)));
  const workerRows = Math.min(wantWorkers, Math.max(1, Math.floor(dataRows * 0.25)));
  const runRows = Math.max(1, dataRows - queueRows - workerRows);
  return { height, queueRows, workerRows, runRows, bodyRows: Math.max(1, height - HEADER_LINES - STATUS_LINES - 1) };
}

/** The first row to show so that `cursor` is visible in a window of `size` rows. */
export function scrollTo(offset: number, cursor: number, size: number, total: number): number {
  let next = offset;
  if (cursor < next) next = cursor;
  if (cursor >= next + size) next = cursor - size + 1;
  return Math.max(0, Math.min(next, Math.max(0, total - size)));
}

export interface Column {
  key: string;
  title: string;
  /** Preferred width. */
  width: number;
  /** Takes the width left over (and gives it up first, down to `min`). */
  flex?: boolean;
  min?: number;
  /** Columns with larger numbers are dropped first when the screen is narrow; 0 never is. */
  drop?: number;
  align?: 'left' | 'right';
}

/** Space between columns: one on a narrow terminal, two where there is room to breathe. */
export function columnGap(width: number): number {
  return width >= 120 ? 2 : 1;
}

/** The columns that fit in `width`, with their final widths; spare width goes to the last flex column. */
export function fitColumns(columns: readonly Column[], width: number, gap = columnGap(width)): Column[] {
  let cols = columns.map((c) => ({ ...c }));
  const total = () => cols.reduce((sum, c) => sum + c.width, 0) + gap * Math.max(0, cols.length - 1);
  for (const c of cols) if (c.flex && total() > width) c.width = Math.max(c.min ?? 4, c.width - (total() - width));
  while (total() > width) {
    const candidates = cols.filter((c) => (c.drop ?? 0) > 0);
    if (candidates.length === 0) break;
    const victim = candidates.reduce((a, b) => ((b.drop ?? 0) >= (a.drop ?? 0) ? b : a));
    cols = cols.filter((c) => c !== victim);
  }
  const spare = width - total();
  const flex = cols.filter((c) => c.flex).pop();
  if (flex && spare > 0) flex.width += spare;
  return cols;
}

/**
 * Text from the outside world (error messages, payloads, worker names) made safe for one
 * screen line: escape sequences could move the cursor or recolour the screen.
 */
export function clean(text: string): string {
  return stripVTControlCharacters(text).replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/** `text` cut to `width` columns (with an ellipsis) and padded to exactly that width. */
export function fitText(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const chars = Array.from(clean(text));
  const cut = chars.length > width ? `${chars.slice(0, Math.max(0, width - 1)).join('')}…` : chars.join('');
  const pad = ' '.repeat(Math.max(0, width - Array.from(cut).length));
  return align === 'right' ? pad + cut : cut + pad;
}
