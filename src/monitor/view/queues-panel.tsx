import { Box } from 'ink';
import type { QueueStats } from '../../queue/index.js';
import { finishedIn, type MinuteCount } from '../../store/index.js';
import type { Segment, Tone } from '../detail-lines.js';
import { ageText, countText, sparkline } from '../format.js';
import type { Column } from '../layout.js';
import { selectedQueue, type MonitorState } from '../state.js';
import { queueFlags } from '../workers.js';
import { EmptyRow, fitTable, PanelTitle, TableHeader, TableRow, type Cell } from './table.js';
import type { Theme } from './theme.js';

export function queueColumns(state: MonitorState, width: number): Column[] {
  const longest = Math.max(5, ...state.queues.map((q) => q.name.length));
  const chartWidth = width >= 120 ? 30 : 10;
  return [
    { key: 'name', title: 'queue', width: Math.min(longest, width >= 120 ? 24 : 12) },
    { key: 'waiting', title: 'wait', width: 6, align: 'right' },
    { key: 'active', title: 'act', width: 4, align: 'right' },
    { key: 'delayed', title: 'delay', width: 5, align: 'right', drop: 3 },
    { key: 'completed', title: 'done', width: 6, align: 'right', drop: 4 },
    { key: 'failed', title: 'fail', width: 5, align: 'right' },
    { key: 'cancelled', title: 'cncl', width: 5, align: 'right', drop: 3 },
    { key: 'expired', title: 'exp', width: 5, align: 'right', drop: 3 },
    { key: 'oldest', title: 'oldest', width: 6, align: 'right', drop: 2 },
    { key: 'consumers', title: 'cons', width: 4, align: 'right', drop: 5 },
    { key: 'chart', title: chartWidth >= 20 ? `finished/min, last ${chartWidth}m` : 'per min', width: chartWidth, drop: 6 },
    { key: 'flags', title: 'flags', width: 11, flex: true, min: 6 },
  ];
}

/**
 * Queues: counts per state, oldest waiting run, consumers, and a per-minute chart of finished
 * runs (minutes with failures drawn in red, or as `!` without colour). A queue with work and
 * nobody to do it, or with a stuck consumer, is drawn in red; a paused one in yellow.
 */
export function QueuesPanel(props: { state: MonitorState; theme: Theme; width: number; rows: number; snapshot?: boolean }) {
  const { state, theme, width, rows, snapshot = false } = props;
  const table = fitTable(queueColumns(state, width), width);
  const chartWidth = table.columns.find((c) => c.key === 'chart')?.width ?? 0;
  const selected = selectedQueue(state)?.name;
  const focused = state.focus === 'queues' && state.mode === 'main';
  const visible = state.queues.slice(state.queueOffset, state.queueOffset + rows);
  const more = state.queues.length > rows ? `${state.queueOffset + 1}-${state.queueOffset + visible.length} of ${state.queues.length}` : '';
  return (
    <Box flexDirection="column">
      <PanelTitle
        title="Queues"
        detail={[`${state.queues.length}`, more, snapshot ? '' : 'p pause/resume  Enter show runs'].filter(Boolean).join('  ')}
        focused={focused}
        theme={theme}
      />
      <TableHeader table={table} />
      {visible.length === 0 ? <EmptyRow text="(no queues yet)" /> : null}
      {visible.map((q) => (
        <TableRow
          key={q.name}
          table={table}
          cells={queueCells(q, state, chartWidth, theme)}
          selected={q.name === selected}
          focused={focused}
          theme={theme}
        />
      ))}
    </Box>
  );
}

function queueCells(q: QueueStats, state: MonitorState, chartWidth: number, theme: Theme): Record<string, Cell> {
  const flags = queueFlags(q, state.workers);
  const alarm = flags.includes('no-consumer') || flags.includes('stuck');
  const rowTone: Tone | undefined = alarm ? 'error' : flags.includes('paused') ? 'warn' : undefined;
  const series = (state.history.byQueue[q.name] ?? []).slice(-chartWidth);
  return {
    name: { text: q.name, tone: rowTone },
    waiting: { text: countText(q.waiting), tone: alarm && q.waiting > 0 ? 'error' : undefined },
    active: { text: countText(q.active), tone: q.active > 0 ? 'accent' : undefined },
    delayed: { text: countText(q.delayed) },
    completed: { text: countText(q.completed) },
    failed: { text: countText(q.failed), tone: q.failed > 0 ? 'error' : undefined },
    cancelled: { text: countText(q.cancelled), tone: q.cancelled > 0 ? 'warn' : undefined },
    expired: { text: countText(q.expired), tone: q.expired > 0 ? 'warn' : undefined },
    oldest: { text: ageText(q.oldestWaitingMs) },
    consumers: { text: String(q.consumers), tone: q.consumers === 0 && alarm ? 'error' : undefined },
    chart: chartCell(series, chartWidth, theme),
    flags: { text: flags.join(' '), tone: rowTone },
  };
}

/**
 * Finished runs per minute (every final state); a minute with failures is red (or `!` without
 * colour). Cancelled and expired runs are not failures: they add to the bar, not to the alarm.
 */
function chartCell(series: readonly MinuteCount[], width: number, theme: Theme): Cell {
  const pad = '·'.repeat(Math.max(0, width - series.length));
  const bars = Array.from(sparkline(series.map(finishedIn)));
  const parts: Segment[] = [{ text: pad, tone: 'dim' }];
  series.forEach((m, i) => {
    const failed = m.failed > 0;
    parts.push({ text: failed && !theme.color ? '!' : bars[i]!, tone: failed ? 'error' : finishedIn(m) > 0 ? 'good' : 'dim' });
  });
  return { text: parts.map((p) => p.text).join(''), parts };
}
