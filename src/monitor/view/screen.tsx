import { Box } from 'ink';
import { layoutOf, type MonitorState } from '../state.js';
import { DetailView } from './detail-view.js';
import { Header } from './header.js';
import { HelpView } from './help-view.js';
import { QueuesPanel } from './queues-panel.js';
import { RunsPanel } from './runs-panel.js';
import { StatusLine } from './status-line.js';
import type { Theme } from './theme.js';
import { WorkersPanel } from './workers-panel.js';

export interface ScreenProps {
  state: MonitorState;
  theme: Theme;
  /** A one-shot snapshot: natural panel heights, no status line, no key hints (nothing reads keys). */
  snapshot?: boolean;
}

/** The whole screen, a pure function of the state: header, panels or a view, status line. */
export function Screen({ state, theme, snapshot = false }: ScreenProps) {
  const width = state.size.columns;
  const layout = layoutOf(state, snapshot);
  const body =
    state.mode === 'detail' && state.detail ? (
      <DetailView state={state} detail={state.detail} theme={theme} width={width} rows={layout.bodyRows} />
    ) : state.mode === 'help' ? (
      <HelpView theme={theme} rows={layout.bodyRows} />
    ) : (
      <>
        <QueuesPanel state={state} theme={theme} width={width} rows={layout.queueRows} snapshot={snapshot} />
        <WorkersPanel state={state} theme={theme} width={width} rows={layout.workerRows} />
        <RunsPanel state={state} theme={theme} width={width} rows={layout.runRows} />
      </>
    );
  return (
    <Box flexDirection="column" width={width} {...(snapshot ? {} : { height: layout.height })}>
      <Header state={state} theme={theme} width={width} />
      <Box flexDirection="column" flexGrow={1}>
        {body}
      </Box>
      {snapshot ? null : <StatusLine state={state} theme={theme} width={width} />}
    </Box>
  );
}
