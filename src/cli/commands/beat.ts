import path from 'node:path';
import { formatInZone, nextFireTimes, resolveSchedules, scheduleRow, type ResolvedSchedule } from '../../beat/index.js';
import { UsageError } from '../../core/errors.js';
import { maskRedisUrl } from '../../core/url.js';
import type { ResolvedConfig } from '../../config/index.js';
import { startBeat } from '../../runtime/index.js';
import type { CliContext } from '../context.js';
import { scheduleTable } from '../schedule-table.js';
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
  const beat = await startBeat(config, { redis: settings.redisUrl, prefix: settings.prefix, db: settings.dbFile, logger });
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
    signal = await Promise.race([stopped, beat.done.then(() => undefined)]);
  } catch (err) {
    // A bug in the loop: report it (exit 1) once history and the database are closed.
    await beat.close().catch(() => undefined);
    throw err;
  }
  logger.info(`${signal ?? 'stop'}: beat stopping`);
  await beat.close();
  logger.info(`stopped (enqueued ${beat.stats().dispatched} run(s))`);
  return 0;
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
