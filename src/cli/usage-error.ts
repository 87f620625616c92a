/** Usage errors found by commander, written the way tq writes every error. */
import type { Command } from 'commander';

/** `tq inspect tasks` for a command: what its `--help` is called with. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Commander's usage errors (`error: unknown option '--x'` and a `(Did you mean --y?)` line)
 * in tq's one style: `tq: <what> — <hint>` on one line; the exit code (2) is set in `main`.
 */
export function oneLineUsage(text: string, path: string): string {
  const lines = text.trim().split('\n');
  const message = (lines[0] ?? '').replace(/^error: /, '');
  const suggested = /^\(Did you mean (.+)\?\)$/.exec(lines[1]?.trim() ?? '')?.[1];
  const hint = suggested !== undefined ? `did you mean "${suggested}"?` : `see ${path} --help`;
  return `tq: ${message} — ${hint}\n`;
}
