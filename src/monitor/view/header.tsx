import { Text } from 'ink';
import { clockText, countText, rateText, sparkline } from '../format.js';
import { finishedRate } from '../reduce.js';
import { RATE_WINDOW_MS, type MonitorState } from '../state.js';
import { finishedIn } from '../../store/index.js';
import { toneStyle, type Theme } from './theme.js';

/**
 * Two lines: where the monitor looks (Redis, prefix), and how the cluster is doing (totals over
 * all queues, throughput now and per minute, failures in the last hour).
 */
export function Header(props: { state: MonitorState; theme: Theme; width: number }) {
  const { state, theme, width } = props;
  const online = state.workers.filter((w) => w.offlineSince === undefined).length;
  const sum = (k: 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'cancelled' | 'expired') =>
    state.queues.reduce((n, q) => n + q[k], 0);
  // Cancelled and expired runs are their own counts (never folded into failed); shown when any.
  const ended = (long: boolean) =>
    (['cancelled', 'expired'] as const)
      .filter((k) => sum(k) > 0)
      .map((k) => `${long ? k : k.slice(0, 4)} ${countText(sum(k))}`)
      .map((t) => `${long ? '  ' : ' '}${t}`)
      .join('');
  // Narrow terminals get short labels so the per-minute chart still fits on the line.
  const totals =
    width >= 100
      ? `waiting ${countText(sum('waiting'))}  active ${countText(sum('active'))}  delayed ${countText(sum('delayed'))}  completed ${countText(sum('completed'))}  failed ${countText(sum('failed'))}${ended(true)}`
      : `wait ${countText(sum('waiting'))} act ${countText(sum('active'))} delay ${countText(sum('delayed'))} done ${countText(sum('completed'))} fail ${countText(sum('failed'))}${ended(false)}`;
  const rate = `now ${rateText(finishedRate(state, RATE_WINDOW_MS))}`;
  const failed = `failed 1h ${state.history.failedLastHour}`;
  // The per-minute chart takes whatever width the rest of the line leaves.
  const separators = 3 * 3;
  const room = width - totals.length - rate.length - failed.length - separators - `${state.history.minutes.length}m `.length;
  const minutes = state.history.minutes.slice(-Math.max(0, Math.min(state.history.minutes.length, room)));
  const chart = minutes.length >= 5 ? `${minutes.length}m ${sparkline(minutes.map(finishedIn))}` : '';
  const down = !state.connection.up;
  return (
    <>
      <Text wrap="truncate">
        <Text bold>tq monitor</Text>
        {`  ${state.redisUrl}  prefix ${state.prefix}  `}
        <Text {...toneStyle(online === 0 ? 'warn' : undefined, theme)}>{`${online} worker${online === 1 ? '' : 's'} online`}</Text>
        <Text dimColor>{`  ${clockText(state.now)}`}</Text>
        {down ? (
          <Text {...toneStyle('error', theme)} bold>
            {'  ● Redis unreachable'}
          </Text>
        ) : null}
      </Text>
      <Text wrap="truncate">
        {totals}
        <Text dimColor>{' │ '}</Text>
        {rate}
        {chart ? <Text dimColor>{' │ '}</Text> : null}
        {chart ? <Text {...toneStyle('accent', theme)}>{chart}</Text> : null}
        <Text dimColor>{' │ '}</Text>
        <Text {...toneStyle(state.history.failedLastHour > 0 ? 'error' : undefined, theme)}>{failed}</Text>
      </Text>
    </>
  );
}
