/**
 * One `tq monitor` as the command runs it (its source and controller, no terminal), refreshing
 * every 200 ms: counts the Redis commands a refresh issues (INFO commandstats deltas over
 * `refreshes` refreshes, nothing else running against this Redis) and how long a refresh takes.
 *
 *   node tq/monitor.js '{"url":"redis://...","prefix":"p","dir":"/tmp/x","refreshes":20}'
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { configFromObject } from '../../dist/config/index.js';
import { createMonitorSource, MonitorController } from '../../dist/monitor/index.js';
import { Admin } from '../../dist/queue/index.js';
import { openStore } from '../../dist/store/index.js';
import config from './app-config.js';

const args = JSON.parse(process.argv[2] ?? '{}') as { url: string; prefix: string; dir: string; refreshes: number };

async function commandCalls(probe: Redis): Promise<number> {
  const text = await probe.info('commandstats');
  let n = 0;
  // The probe's own INFO calls are not the monitor's.
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (m[1] !== 'info') n += Number(m[2]);
  return n;
}

const resolved = configFromObject(config, args.dir);
const settings = { redisUrl: args.url, prefix: args.prefix };
const probe = new Redis(args.url);
const store = openStore(path.join(args.dir, 'monitor.db'));
const admin = await Admin.connect(resolved, settings);
const source = createMonitorSource({ config: resolved, settings, store, admin });
const refreshes: { at: number; tookMs: number }[] = [];
const controller = new MonitorController(source, {
  redisUrl: args.url,
  prefix: args.prefix,
  intervalMs: 200,
  columns: 120,
  rows: 40,
  onRefresh: (r) => refreshes.push(r),
});
const until = async (n: number) => {
  while (refreshes.length < n) await new Promise((r) => setTimeout(r, 20));
};
await controller.start();
await until(3);
const from = refreshes.length;
const before = await commandCalls(probe);
await until(from + args.refreshes);
const after = await commandCalls(probe);
const window = refreshes.slice(from, from + args.refreshes);
const state = controller.getState();
await controller.close();
await source.close();
store.close();
probe.disconnect();
process.stdout.write(
  `${JSON.stringify({
    waiting: state.queues.reduce((n, q) => n + q.waiting, 0),
    commandsPerRefresh: (after - before) / args.refreshes,
    refreshMs: window.reduce((n, r) => n + r.tookMs, 0) / window.length,
  })}\n`,
);
