import { Box } from 'ink';
import { clockWarning, describeOffset } from '../../core/clock-offset.js';
import { ageText, bytesText, countText } from '../format.js';
import type { Column } from '../layout.js';
import { selectedWorker, type MonitorState, type WorkerRow } from '../state.js';
import { heartbeatAge, isLate } from '../workers.js';
import { EmptyRow, fitTable, PanelTitle, TableHeader, TableRow, type Cell } from './table.js';
import type { Theme } from './theme.js';

export function workerColumns(state: MonitorState, width: number): Column[] {
  const longest = Math.max(6, ...state.workers.map((w) => w.name.length));
  return [
    { key: 'name', title: 'worker', width: Math.min(longest, width >= 120 ? 28 : 16) },
    { key: 'host', title: 'host', width: 12, drop: 4 },
    { key: 'pid', title: 'pid', width: 7, align: 'right', drop: 5 },
    { key: 'active', title: 'active', width: 6, align: 'right' },
    { key: 'processed', title: 'done', width: 6, align: 'right' },
    { key: 'failed', title: 'fail', width: 5, align: 'right' },
    { key: 'memory', title: 'memory', width: 8, align: 'right', drop: 3 },
    // The heartbeat's age: `seen`, not `beat` (`tq beat` is the scheduler).
    { key: 'seen', title: 'seen', width: 5, align: 'right' },
    { key: 'queues', title: 'queues', width: 20, drop: 7 },
    { key: 'uptime', title: 'up', width: 5, align: 'right', drop: 6 },
    { key: 'flags', title: 'flags', width: 8, flex: true, min: 7 },
  ];
}

/**
 * Workers from their heartbeats: a worker that stops beating turns `late`, then `offline` when
 * its heartbeat expires, and drops off a minute later. `stuck` (free slots, work waiting, no
 * fetch for 30 s) is red.
 */
export function WorkersPanel(props: { state: MonitorState; theme: Theme; width: number; rows: number }) {
  const { state, theme, width, rows } = props;
  const table = fitTable(workerColumns(state, width), width);
  const selected = selectedWorker(state)?.name;
  const focused = state.focus === 'workers' && state.mode === 'main';
  const visible = state.workers.slice(state.workerOffset, state.workerOffset + rows);
  const online = state.workers.filter((w) => w.offlineSince === undefined).length;
  const more =
    state.workers.length > rows ? `${state.workerOffset + 1}-${state.workerOffset + visible.length} of ${state.workers.length}` : '';
  return (
    <Box flexDirection="column">
      <PanelTitle title="Workers" detail={[`${online} online`, more].filter(Boolean).join('  ')} focused={focused} theme={theme} />
      <TableHeader table={table} />
      {visible.length === 0 ? <EmptyRow text="(no live workers: start one with tq worker)" /> : null}
      {visible.map((w) => (
        <TableRow
          key={w.name}
          table={table}
          cells={workerCells(w, state.now)}
          selected={w.name === selected}
          focused={focused}
          theme={theme}
        />
      ))}
    </Box>
  );
}

function workerCells(w: WorkerRow, now: number): Record<string, Cell> {
  const offline = w.offlineSince !== undefined;
  const late = isLate(w, now);
  const flags = [
    offline ? 'offline' : late ? 'late' : w.stopping ? 'stopping' : '',
    w.stuck && !offline ? 'stuck' : '',
    w.zombies ? `${w.zombies} zombie(s)` : '',
    // A worker's clock off Redis's promotes delayed runs early or late (README, Clocks).
    w.clockOffsetMs !== undefined && clockWarning(w.clockOffsetMs) ? `clock ${describeOffset(w.clockOffsetMs)}` : '',
  ].filter(Boolean);
  const dim = offline ? ('dim' as const) : undefined;
  const slots = w.concurrency * w.queues.length;
  return {
    name: { text: w.name, tone: offline ? 'error' : w.stuck ? 'error' : undefined },
    host: { text: w.host, tone: dim },
    pid: { text: String(w.pid), tone: dim },
    active: { text: `${w.active.length}/${slots}`, tone: dim ?? (w.active.length > 0 ? 'accent' : undefined) },
    processed: { text: countText(w.processed), tone: dim },
    failed: { text: countText(w.failed), tone: dim ?? (w.failed > 0 ? 'error' : undefined) },
    memory: { text: bytesText(w.rssBytes), tone: dim },
    seen: { text: ageText(heartbeatAge(w, now)), tone: offline ? 'error' : late ? 'warn' : undefined },
    queues: { text: w.queues.join(','), tone: dim },
    uptime: { text: ageText(now - w.startedAt), tone: dim },
    flags: { text: flags.join(' '), tone: offline || w.stuck ? 'error' : flags.length > 0 ? 'warn' : undefined },
  };
}
