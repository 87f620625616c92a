import { formatInZone, type ScheduleRow } from '../beat/index.js';

/** The banner's schedule table (`tq beat`, `tq dev`): one padded line per schedule, next fire in its own zone. */
export function scheduleTable(rows: readonly ScheduleRow[]): string[] {
  if (rows.length === 0) return [];
  const cells = rows.map((r) => [
    r.name,
    r.task,
    r.expression,
    r.zone,
    r.missed,
    !r.enabled ? 'disabled' : r.nextFire ? formatInZone(Date.parse(r.nextFire), r.zone) : 'none ahead',
  ]);
  const table = [['schedule', 'task', 'expression', 'zone', 'missed', 'next fire'], ...cells];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}
