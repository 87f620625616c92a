import { Box } from 'ink';
import { stateTone } from '../detail-lines.js';
import { isFiltering } from '../filter.js';
import { clockText, durationText } from '../format.js';
import type { Column } from '../layout.js';
import { visibleRuns, type MonitorState, type RunRow } from '../state.js';
import { EmptyRow, fitTable, PanelTitle, TableHeader, TableRow, type Cell } from './table.js';
import type { Theme } from './theme.js';

export function runColumns(width: number): Column[] {
  return [
    { key: 'time', title: 'time', width: 8 },
    { key: 'id', title: 'id', width: 16 },
    { key: 'task', title: 'task', width: width >= 120 ? 16 : 10 },
    { key: 'state', title: 'state', width: 9 },
    { key: 'attempt', title: 'att', width: 3, align: 'right' },
    { key: 'runtime', title: 'runtime', width: 7, align: 'right' },
    { key: 'queue', title: 'queue', width: 10, drop: 5 },
    { key: 'worker', title: 'worker', width: 14, flex: true, min: 6 },
    { key: 'error', title: 'error', width: 20, flex: true, min: 12, drop: 6 },
  ];
}

/**
 * Recent runs by last change, newest first. The top row is live (new runs push in above it);
 * moving down freezes the list so rows stay put under the cursor, and scrolling past the end
 * pages older runs in from the SQLite history.
 */
export function RunsPanel(props: { state: MonitorState; theme: Theme; width: number; rows: number }) {
  const { state, theme, width, rows } = props;
  const table = fitTable(runColumns(width), width);
  const list = visibleRuns(state);
  const { runs } = state;
  const focused = state.focus === 'runs' && state.mode === 'main';
  const visible = list.slice(runs.offset, runs.offset + rows);
  const where = runs.frozen
    ? `paused at ${runs.cursor + 1} of ${list.length}${runs.newSinceFrozen ? `  ${runs.newSinceFrozen} new (g: back to live)` : '  (g: back to live)'}`
    : `live  ${list.length} shown`;
  const detail = [
    where,
    isFiltering(runs.filter) ? `filter: ${runs.filter.text}` : '',
    runs.loading ? `loading ${runs.loading} runs…` : '',
    runs.frozen && runs.olderExhausted && runs.cursor === list.length - 1 ? 'end of history' : '',
  ]
    .filter(Boolean)
    .join('  ');
  return (
    <Box flexDirection="column">
      <PanelTitle title="Runs" detail={detail} focused={focused} theme={theme} />
      <TableHeader table={table} />
      {visible.length === 0 ? (
        <EmptyRow text={isFiltering(runs.filter) ? `(no runs match "${runs.filter.text}"; Esc clears the filter)` : '(no runs yet)'} />
      ) : null}
      {visible.map((r, i) => (
        <TableRow key={r.id} table={table} cells={runCells(r)} selected={runs.offset + i === runs.cursor} focused={focused} theme={theme} />
      ))}
    </Box>
  );
}

function runCells(r: RunRow): Record<string, Cell> {
  return {
    time: { text: clockText(r.changedAt), tone: 'dim' },
    id: { text: r.id },
    task: { text: r.task },
    state: { text: r.state, tone: stateTone(r.state) },
    attempt: { text: String(r.attempt) },
    runtime: { text: durationText(r.runtimeMs) },
    queue: { text: r.queue },
    worker: { text: r.worker ?? '-' },
    error: { text: r.error ?? '', tone: r.error ? 'error' : undefined },
  };
}
