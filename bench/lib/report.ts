/** The results as a table for people, or one JSON document for scripts. */
import Table from 'cli-table3';
import type { ScenarioResult } from './bench.js';
import type { Machine } from './machine.js';

function figure(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value >= 1000 ? Math.round(value).toLocaleString('en-US') : String(value);
}

export function table(
  machine: Machine,
  settings: Record<string, unknown>,
  rows: readonly ScenarioResult[],
  notes: readonly string[],
): string {
  const t = new Table({
    head: ['scenario', 'unit', 'BullMQ', 'tq', 'tq/BullMQ', 'goal'],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'left'],
    style: { head: [], border: [] },
  });
  for (const r of rows) {
    const better = r.higherIsBetter ? 'higher is better' : 'lower is better';
    const goal = r.goal ? `${r.goal.met ? 'ok  ' : 'MISS'} ${r.goal.text}` : '';
    t.push([r.name, `${r.unit} (${better})`, figure(r.baseline), figure(r.tq), r.ratio.toFixed(2), goal]);
  }
  const lines = [
    `tq benchmark — ${machine.cpu} x${machine.cores}, ${machine.memoryGB} GB, ${machine.os}; Node ${machine.node}, Redis ${machine.redis}, BullMQ ${machine.bullmq}, sharp ${machine.sharp}`,
    `settings: ${Object.entries(settings)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ')}`,
    t.toString(),
    ...notes.map((n) => `* ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function json(
  machine: Machine,
  settings: Record<string, unknown>,
  rows: readonly ScenarioResult[],
  notes: readonly string[],
): string {
  return `${JSON.stringify({ machine, settings, scenarios: rows, notes }, null, 2)}\n`;
}
