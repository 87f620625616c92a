import fs from 'node:fs';
import { errorMessage, RedisUnavailableError } from '../../core/errors.js';
import { hashTag, maskRedisUrl } from '../../core/url.js';
import {
  Admin,
  connect,
  gatherDeployment,
  hasNoConsumer,
  queueStats,
  redisTarget,
  streamBacklog,
  warnIfSkewed,
  type Redis,
} from '../../queue/index.js';
import { getMeta, openDatabase } from '../../store/index.js';
import type { ResolvedConfig, Settings } from '../../config/index.js';
import type { CliContext } from '../context.js';
import { diagnose, type DoctorCheck, type HistoryFacts } from '../doctor-checks.js';
import { jsonErrors } from '../output.js';

export interface DoctorOptions {
  json?: boolean;
}

/**
 * `tq doctor`: checks the deployment this config and these settings point at, prints one line
 * per check (what is wrong and the fix), exits 1 when anything is wrong. Reads only (its admin
 * connection does what every tq command does at start: the layout check).
 */
export async function doctorCommand(ctx: CliContext, opts: DoctorOptions): Promise<number> {
  return jsonErrors(ctx.out, opts.json, async () => {
    const config = await ctx.config();
    const settings = ctx.settings(config);
    const kind = redisTarget(settings.redisUrl).kind;
    const checks = await runChecks(config, settings, kind);
    const problems = checks.filter((c) => !c.ok).length;
    if (opts.json) {
      ctx.out.json({ ok: problems === 0, redis: { url: maskRedisUrl(settings.redisUrl), kind, prefix: settings.prefix }, checks });
    } else {
      const { color } = ctx.out;
      // One line per check (long findings stay whole: scripts grep them).
      for (const c of checks) {
        const status = c.ok ? color.green('ok  ') : color.red('FAIL');
        ctx.out.print(`${status}  ${c.name.padEnd(16)}  ${c.ok ? c.detail : `${c.detail} — fix: ${c.fix ?? '-'}`}`);
      }
      ctx.out.print(problems === 0 ? 'tq doctor: all checks passed' : `tq doctor: ${problems} problem(s)`);
    }
    return problems === 0 ? 0 : 1;
  });
}

async function runChecks(config: ResolvedConfig, settings: Settings, kind: ReturnType<typeof redisTarget>['kind']): Promise<DoctorCheck[]> {
  let redis: Redis;
  try {
    redis = await connect(settings.redisUrl, { role: 'producer', name: 'tq-doctor' });
  } catch (err) {
    if (!(err instanceof RedisUnavailableError)) throw err;
    return [{ name: 'redis', ok: false, detail: err.message, fix: err.hint ?? 'start Redis or fix --redis' }];
  }
  try {
    const [facts, ownOffsetMs] = await Promise.all([gatherDeployment(redis, settings.prefix), warnIfSkewed(redis, () => undefined)]);
    // Without a tag on a cluster nothing of tq's works: the queue checks would only fail again.
    const usable = kind !== 'cluster' || hashTag(settings.prefix) !== undefined;
    const unconsumed = usable ? await waitingWithoutConsumer(config, settings, facts.workers) : undefined;
    const history = await historyFacts(redis, settings);
    return diagnose({
      kind,
      prefix: settings.prefix,
      allowEviction: config.allowEviction,
      ownOffsetMs,
      facts,
      history,
      ...(unconsumed ? { unconsumed } : {}),
    });
  } finally {
    redis.disconnect();
  }
}

async function waitingWithoutConsumer(
  config: ResolvedConfig,
  settings: Settings,
  workers: Parameters<typeof queueStats>[1],
): Promise<{ name: string; waiting: number }[]> {
  const admin = await Admin.connect(config, settings);
  try {
    const stats = await queueStats(admin, workers);
    return stats.filter((q) => !q.paused && hasNoConsumer(q)).map((q) => ({ name: q.name, waiting: q.waiting }));
  } finally {
    await admin.close();
  }
}

/** This host's history file: how far behind the stream it is and what it missed (never created here). */
async function historyFacts(redis: Redis, settings: Settings): Promise<HistoryFacts> {
  const dbFile = settings.dbFile;
  if (!fs.existsSync(dbFile)) return { dbFile, missing: true, missedTotal: 0, backlog: 0 };
  const db = openDatabase(dbFile);
  let lastId: string;
  let missedTotal: number;
  try {
    lastId = getMeta(db, `recorder_last_id:${settings.prefix}`) ?? '0-0';
    missedTotal = Number(getMeta(db, `recorder_missed_total:${settings.prefix}`) ?? '0');
  } catch (err) {
    throw new Error(`cannot read ${dbFile}: ${errorMessage(err)}`, { cause: err });
  } finally {
    db.close();
  }
  const [backlog, [seconds]] = await Promise.all([streamBacklog(redis, settings.prefix, lastId), redis.time()]);
  const facts: HistoryFacts = { dbFile, lastId, missedTotal, backlog: backlog.count };
  if (backlog.firstId) facts.oldestUnrecordedMs = Math.max(0, Number(seconds) * 1000 - Number(backlog.firstId.split('-')[0]));
  return facts;
}
