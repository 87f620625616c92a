import path from 'node:path';
import {
  Beat,
  formatInZone,
  nextFireTimes,
  resolveSchedules,
  scheduleRow,
  type BeatLogger,
  type ResolvedSchedule,
  type ScheduleRow,
} from '../../beat/index.js';
import { UsageError, errorMessage } from '../../core/errors.js';
import { maskRedisUrl } from '../../core/url.js';
import type { ResolvedConfig, Settings } from '../../config/index.js';
import { connectBeatBackend } from '../../queue/index.js';
import { openStore, type Store } from '../../store/index.js';
import type { CliContext } from '../context.js';
import { startRecorder } from '../history.js';
import { createWorkerLogger } from '../worker-log.js';

export interface BeatCommandOptions {
  dryRun?: boolean;
  count?: string;
  from?: string;
}

const DEFAULT_DRY_RUN_COUNT = 5;

/** `tq beat`: enqueue every schedule's runs until SIGTERM/SIGINT; `--dry-run` only lists fire times. */
export async function beatCommand(ctx: CliContext, options: BeatCommandOptions): Promise<number> {
  if (!options.dryRun) {
    if (options.count !== undefined) throw new UsageError('--count only works with --dry-run');
    if (options.from !== undefined) throw new UsageError('--from only works with --dry-run');
  }
  const config = await ctx.config();
  const schedules = resolveSchedules(config);
  if (options.dryRun) return dryRun(ctx, config, schedules, parseCount(options.count), parseFrom(options.from));

  const settings = ctx.settings(config);
  const logger = createWorkerLogger({ level: 'info', format: 'text', color: ctx.out.color, write: (line) => ctx.out.print(line) });
  const running = await prepareBeat({ config, settings, schedules, logger, history: true });
  const { bold } = ctx.out.color;
  ctx.out.print(`${bold('tq beat')} ready: ${schedules.length} schedule(s)`);
  ctx.out.print(`  ${'redis'.padEnd(10)} ${maskRedisUrl(settings.redisUrl)} (prefix ${settings.prefix})`);
  ctx.out.print(`  ${'database'.padEnd(10)} ${path.relative(ctx.cwd, settings.dbFile) || settings.dbFile}`);
  ctx.out.print(`  ${'config'.padEnd(10)} ${config.file ? path.relative(ctx.cwd, config.file) : '(built in)'}`);
  for (const line of scheduleTable(schedules.map((s) => scheduleRow(s, undefined, Date.now())))) ctx.out.print(`  ${line}`);
  if (schedules.length === 0) logger.warn('no schedules in the config: beat has nothing to enqueue (add schedules: { ... } to it)');

  const stopped = new Promise<NodeJS.Signals>((resolve) => ctx.signals.onStop(resolve));
  let signal: NodeJS.Signals | undefined;
  try {
    signal = await Promise.race([stopped, running.start().then(() => undefined)]);
  } catch (err) {
    await running.stop().catch(() => undefined);
    throw err;
  }
  logger.info(`${signal ?? 'stop'}: beat stopping`);
  await running.stop();
  logger.info(`stopped (enqueued ${running.beat.dispatched} run(s))`);
  return 0;
}

interface PreparedBeat {
  readonly beat: Beat;
  readonly schedules: readonly ResolvedSchedule[];
  /** Starts the loop; settles when it ends. */
  start(): Promise<void>;
  /** Stops the loop, then closes history and the database (when this beat opened them). */
  stop(): Promise<void>;
}

/**
 * Connects (Redis unreachable at start: one line, exit 1) and builds the beat. With `history`,
 * also opens the database and records the run history into it, as every long-running tq
 * process does; `tq dev` leaves that to its worker.
 */
async function prepareBeat(o: {
  config: ResolvedConfig;
  settings: Settings;
  schedules: readonly ResolvedSchedule[];
  logger: BeatLogger;
  history: boolean;
}): Promise<PreparedBeat> {
  const producerSettings = { redisUrl: o.settings.redisUrl, prefix: o.settings.prefix };
  const backend = await connectBeatBackend(o.config, producerSettings);
  let store: Store | undefined;
  let recorder: Awaited<ReturnType<typeof startRecorder>> | undefined;
  try {
    if (o.history) {
      store = openStore(o.settings.dbFile);
      recorder = await startRecorder(store, o.settings, o.config, o.logger);
    }
  } catch (err) {
    await backend.close();
    store?.close();
    throw err;
  }
  const beat = new Beat({
    schedules: o.schedules,
    backend,
    connect: () => connectBeatBackend(o.config, producerSettings),
    logger: o.logger,
  });
  let stopping: Promise<void> | undefined;
  return {
    beat,
    schedules: o.schedules,
    start: () => beat.start(),
    stop: () =>
      (stopping ??= (async () => {
        try {
          await beat.stop();
        } finally {
          await recorder?.close();
          store?.close();
        }
      })()),
  };
}

/**
 * Beat inside `tq dev`: same loop, no history of its own (the worker records it). Stops on the
 * first signal; a bug in it is reported without taking the worker down.
 */
export async function startDevBeat(
  ctx: CliContext,
  o: { config: ResolvedConfig; settings: Settings; logger: BeatLogger },
): Promise<{ stop(): Promise<void> }> {
  const schedules = resolveSchedules(o.config);
  const running = await prepareBeat({ ...o, schedules, history: false });
  if (schedules.length > 0) {
    ctx.out.print(`${ctx.out.color.bold('tq dev')} beat: ${schedules.length} schedule(s)`);
    for (const line of scheduleTable(schedules.map((s) => scheduleRow(s, undefined, Date.now())))) ctx.out.print(`  ${line}`);
  }
  ctx.signals.onStop(() => void running.stop().catch(() => undefined));
  running.start().catch((err: unknown) => o.logger.error(`beat stopped: internal error: ${errorMessage(err)}`));
  return { stop: () => running.stop().catch(() => undefined) };
}

/** The banner's schedule table: one padded line per schedule, next fire in its own zone. */
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

function dryRun(ctx: CliContext, config: ResolvedConfig, schedules: readonly ResolvedSchedule[], count: number, fromMs: number): number {
  if (schedules.length === 0) {
    ctx.out.info(`no schedules in ${config.file ? path.relative(ctx.cwd, config.file) : 'the config'}: nothing would be enqueued`);
    return 0;
  }
  schedules.forEach((s, i) => {
    if (i > 0) ctx.out.print();
    const kind = s.timing.kind === 'every' ? ' (slots aligned to the Unix epoch)' : '';
    ctx.out.print(`${s.name} -> ${s.task}: ${s.expression} in ${s.zone}${kind}${s.enabled ? '' : ' (disabled: would not fire)'}`);
    const times = nextFireTimes(s, fromMs, count);
    for (const t of times) ctx.out.print(`  ${formatInZone(t, s.zone, { weekday: true })}`);
    if (times.length === 0) ctx.out.print('  (no fire time ahead)');
  });
  return 0;
}

function parseCount(value: string | undefined): number {
  if (value === undefined) return DEFAULT_DRY_RUN_COUNT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`--count must be an integer from 1 to 1000 (got "${value}")`);
  return n;
}

function parseFrom(value: string | undefined): number {
  if (value === undefined) return Date.now();
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`--from "${value}" is not a date (use ISO 8601, e.g. 2026-03-08T00:00:00Z)`);
  return ms;
}
