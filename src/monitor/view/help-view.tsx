import { Box, Text } from 'ink';
import { KEY_HELP } from '../keys.js';
import { PanelTitle } from './table.js';
import type { Theme } from './theme.js';

const NOTES = [
  'Runs are listed by last change, newest first. On the top row the list is live; moving down',
  'freezes it so rows stay put, and scrolling past its end reads older runs from the history.',
  'Filter words: a state (failed), a task name (resize) or queue:NAME; several combine.',
  'Queue flags: paused · no-consumer (work waits, no live worker) · stuck (a consumer stopped',
  'fetching). Worker flags: late (missed beats) · offline (heartbeat gone; dropped after 1 min).',
];

export function HelpView(props: { theme: Theme; rows: number }) {
  const lines = [
    ...KEY_HELP.map(([k, what]) => (
      <Text key={k} wrap="truncate">
        <Text bold>{`  ${k.padEnd(12)}`}</Text>
        {what}
      </Text>
    )),
    <Text key="gap"> </Text>,
    ...NOTES.map((n) => (
      <Text key={n} wrap="truncate" dimColor>
        {`  ${n}`}
      </Text>
    )),
  ];
  return (
    <Box flexDirection="column">
      <PanelTitle title="Keys" detail="any key closes" focused theme={props.theme} />
      {lines.slice(0, props.rows)}
    </Box>
  );
}
