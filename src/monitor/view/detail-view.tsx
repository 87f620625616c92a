import { Box, Text } from 'ink';
import { detailLines, stateTone, type Line } from '../detail-lines.js';
import { clockText } from '../format.js';
import type { DetailState, MonitorState } from '../state.js';
import { PanelTitle } from './table.js';
import { toneStyle, type Theme } from './theme.js';

/**
 * Everything about one run: payload, result or error with its stack, progress, logs, timings
 * and every attempt's error. Live while the run moves (run events update it); scrolls.
 */
export function DetailView(props: { state: MonitorState; detail: DetailState; theme: Theme; width: number; rows: number }) {
  const { state, detail, theme, width, rows } = props;
  const lines: Line[] = detail.data
    ? detailLines(detail.data, width, state.now)
    : [
        [{ text: detail.id, tone: 'heading' }],
        ...(detail.row
          ? [
              [
                { text: `${detail.row.task} on ${detail.row.queue}  ` },
                { text: detail.row.state, tone: stateTone(detail.row.state) },
                { text: `  at ${clockText(detail.row.changedAt)}` },
              ],
            ]
          : []),
        [{ text: detail.loading ? 'loading…' : (detail.error ?? 'not found'), tone: detail.error ? 'error' : 'dim' }],
      ];
  const scroll = Math.max(0, Math.min(detail.scroll, lines.length - rows));
  const shown = lines.slice(scroll, scroll + rows);
  const position = lines.length > rows ? `lines ${scroll + 1}-${scroll + shown.length} of ${lines.length}  ` : '';
  return (
    <Box flexDirection="column">
      <PanelTitle title="Run" detail={`${position}Esc back  ↑↓ scroll  r retry  c cancel`} focused theme={theme} />
      {shown.map((line, i) => (
        <Text key={i} wrap="truncate">
          {line.map((s, j) => (
            <Text key={j} {...toneStyle(s.tone, theme)}>
              {s.text}
            </Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}
