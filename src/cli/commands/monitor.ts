import { parseDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';
import { maskRedisUrl } from '../../core/url.js';
import { createMonitorSource, MonitorController, renderSnapshot, runLive } from '../../monitor/index.js';
import { Admin } from '../../queue/index.js';
import { catchUpHistory, startRecorder, type RunningRecorder } from '../../runtime/history.js';
import { openStore } from '../../store/index.js';
import type { CliContext } from '../context.js';

export interface MonitorCommandOptions {
  once?: boolean;
  interval?: string;
}

export function parseInterval(value: string | undefined): number {
  if (value === undefined) return 1000;
  const ms = parseDuration(value, '--interval');
  if (ms < 200 || ms > 60_000) throw new UsageError(`--interval must be from 200ms to 60s (got "${value}")`);
  return ms;
}

/**
 * `tq monitor`: full-screen and live on a terminal; one plain snapshot with `--once` or when
 * stdout (or stdin, which the keys come from) is not a terminal.
 */
export async function monitorCommand(ctx: CliContext, opts: MonitorCommandOptions): Promise<number> {
  const intervalMs = parseInterval(opts.interval);
  const config = await ctx.config();
  const settings = ctx.settings(config);
  const interactive = !opts.once && ctx.out.tty && Boolean(process.stdin.isTTY);
  const stdout = ctx.out.stdout;
  const columns = stdout.isTTY ? stdout.columns || 80 : Number(ctx.env.COLUMNS) || 120;
  const admin = await Admin.connect(config, { ...settings, onWarning: (m) => ctx.out.warn(m) });
  let store;
  try {
    store = openStore(settings.dbFile, { prefix: settings.prefix });
  } catch (err) {
    await admin.close();
    throw err;
  }
  const history = store;
  const source = createMonitorSource({
    config,
    settings,
    store,
    admin,
    catchUp: (events) => catchUpHistory(history, events, settings, config),
  });
  const controller = new MonitorController(source, {
    redisUrl: maskRedisUrl(settings.redisUrl),
    prefix: settings.prefix,
    intervalMs,
    columns,
    rows: stdout.rows || 24,
  });
  let recorder: RunningRecorder | undefined;
  try {
    if (!interactive) {
      await controller.start({ loop: false });
      ctx.out.print(renderSnapshot(controller.getState(), columns));
      return 0;
    }
    // Like every long-running tq process, keep this host's history current (the monitor pages
    // through it); its warnings go to the status line, not over the screen.
    recorder = await startRecorder(store, settings, config, {
      info: (m) => controller.status(m),
      warn: (m) => controller.status(m, 'warn'),
    });
    ctx.signals.onStop(() => void controller.run({ type: 'quit' }));
    await controller.start();
    await runLive(controller, { stdout, stdin: process.stdin, color: ctx.out.color.level > 0 });
    return 0;
  } finally {
    await controller.close();
    await recorder?.close();
    await source.close();
    store.close();
  }
}
