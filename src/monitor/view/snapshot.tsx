import { stripVTControlCharacters } from 'node:util';
import { renderToString } from 'ink';
import type { MonitorState } from '../state.js';
import { Screen } from './screen.js';

/**
 * The panels as plain text, for `tq monitor --once` and for a stdout that is not a terminal:
 * the same components as the live screen, at their natural heights, without escape codes.
 */
export function renderSnapshot(state: MonitorState, columns: number): string {
  const sized = { ...state, size: { ...state.size, columns } };
  const text = renderToString(<Screen state={sized} theme={{ color: false, selection: false }} snapshot />, { columns });
  return stripVTControlCharacters(text)
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}
