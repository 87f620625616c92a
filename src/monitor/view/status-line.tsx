import { Text } from 'ink';
import { ageText, clockText } from '../format.js';
import type { MonitorState } from '../state.js';
import { toneStyle, type Theme } from './theme.js';

/**
 * The bottom line: a prompt when one is open, else what the last action did (every action
 * confirms here), else a warning when updates have stopped; the key hint on the right.
 */
export function StatusLine(props: { state: MonitorState; theme: Theme; width: number }) {
  const { state, theme, width } = props;
  const full = state.mode === 'main' ? '/ filter  ? help  q quit' : state.mode === 'detail' ? 'Esc back  q quit' : '';
  // A message needs the room more than the hint does on a narrow terminal.
  const hint = state.status && width < 120 ? (state.mode === 'help' ? '' : '? help') : full;
  const prompt = state.prompt;
  if (prompt?.kind === 'filter') {
    return (
      <Text wrap="truncate">
        <Text bold>{'filter runs: '}</Text>
        {prompt.text}
        <Text inverse> </Text>
        <Text dimColor>{'  Enter apply  Esc cancel  (task names, states, queue:NAME)'}</Text>
      </Text>
    );
  }
  if (prompt?.kind === 'confirm-cancel') {
    return (
      <Text wrap="truncate" {...toneStyle('warn', theme)} bold>
        {`cancel ${prompt.task} run ${prompt.id} (${prompt.state})? y/n`}
      </Text>
    );
  }
  if (!state.connection.up) {
    return (
      <Text wrap="truncate" {...toneStyle('error', theme)}>
        {`Redis unreachable since ${clockText(state.connection.since)}, retrying (showing the last data): ${state.connection.detail ?? ''}`}
      </Text>
    );
  }
  const stale = state.refreshedAt !== undefined && state.now - state.refreshedAt > 3 * Math.max(1000, state.intervalMs);
  const status = state.status;
  const text = status ? `${clockText(status.at)} ${status.text}` : stale ? `no update for ${ageText(state.now - state.refreshedAt!)}` : '';
  const tone = status?.level === 'error' ? 'error' : status?.level === 'warn' || (!status && stale) ? 'warn' : undefined;
  const room = Math.max(0, width - hint.length - 2);
  const shown =
    Array.from(text).length > room
      ? `${Array.from(text)
          .slice(0, Math.max(0, room - 1))
          .join('')}…`
      : text;
  return (
    <Text wrap="truncate">
      <Text {...toneStyle(tone, theme)}>{shown.padEnd(room)}</Text>
      <Text dimColor>{`  ${hint}`}</Text>
    </Text>
  );
}
