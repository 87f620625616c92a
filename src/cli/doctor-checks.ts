/**
 * `tq doctor`'s rules: facts about a deployment in, one check per concern out, each with what is
 * wrong and how to fix it. Pure (the facts are gathered by queue/deployment.ts), so every rule is
 * tested without Redis.
 */
import { CLOCK_WARN_MS, describeOffset } from '../core/clock-offset.js';
import { hashTag, type RedisKind } from '../core/url.js';
import type { DeploymentFacts, ServerFacts, WorkerHeartbeat } from '../queue/index.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** What was found (one line). */
  detail: string;
  /** What to do (one line), for a check that is not ok. */
  fix?: string;
}

/**
 * Connections one process opens, by what it is (see README, "Running on several machines"):
 * a worker 5 + 2 per queue (memory watch, recorder, runtime events, control subscriber, lock
 * keeper; per queue BullMQ's command and blocking connections), beat 2, a client 2. On a cluster
 * each is one connection per master.
 */
export const CONNECTIONS = { workerBase: 5, workerPerQueue: 2, beat: 2, client: 2 } as const;

export function workerConnections(queues: number): number {
  return CONNECTIONS.workerBase + CONNECTIONS.workerPerQueue * queues;
}

export interface HistoryFacts {
  dbFile: string;
  /** The file does not exist: nothing is recorded on this host. */
  missing?: boolean;
  lastId?: string;
  missedTotal: number;
  backlog: number;
  /** Age of the oldest event not yet in this file (ms; by Redis's clock). */
  oldestUnrecordedMs?: number;
}

export interface DoctorInput {
  kind: RedisKind;
  prefix: string;
  allowEviction: boolean;
  /** This host's clock offset from Redis's (ms, server minus local). */
  ownOffsetMs: number;
  facts: DeploymentFacts;
  history?: HistoryFacts;
  /** Queues that have waiting runs and no live consumer. */
  unconsumed?: { name: string; waiting: number }[];
}

const MIN_VERSION: [number, number] = [6, 2];
/** History this far behind (events, or age of the oldest unrecorded one) is worth a fix. */
const BACKLOG_EVENTS = 1000;
const BACKLOG_AGE_MS = 60_000;
const CLIENTS_SHARE = 0.8;

export function diagnose(input: DoctorInput): DoctorCheck[] {
  const { facts } = input;
  const checks = [
    redisCheck(input.kind, facts.servers),
    eachServer(
      'maxmemory-policy',
      facts.servers,
      (s) => evictionProblem(s, input.allowEviction),
      (s) => s.maxmemoryPolicy,
      {
        fix: 'CONFIG SET maxmemory-policy noeviction (and in redis.conf / your provider settings)',
      },
    ),
    eachServer('persistence', facts.servers, persistenceProblem, (s) => s.appendonly && `appendonly ${s.appendonly}`, {
      fix: 'CONFIG SET appendonly yes (and in redis.conf / your provider settings); see RELIABILITY.md, "Durability"',
    }),
    hashTagCheck(input.kind, input.prefix),
    clockCheck(input.ownOffsetMs, facts.workers),
    namesCheck(input.prefix, facts),
    connectionsCheck(facts),
  ];
  if (input.history) checks.push(historyCheck(input.history));
  if (input.unconsumed) checks.push(consumersCheck(input.unconsumed));
  return checks;
}

function versionBelow(version: string, [major, minor]: [number, number]): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a < major || (a === major && b < minor);
}

function redisCheck(kind: RedisKind, servers: ServerFacts[]): DoctorCheck {
  const first = servers[0];
  const product = first ? `${first.product === 'redis' ? 'Redis' : first.product} ${first.version}` : 'Redis';
  const shape =
    kind === 'cluster'
      ? `cluster of ${servers.length} master(s)`
      : kind === 'sentinel'
        ? `sentinel-managed primary ${first?.address ?? '?'} with ${first?.connectedReplicas ?? 0} replica(s)`
        : `standalone ${first?.address ?? ''}`.trim();
  const old = servers.find((s) => s.product === 'redis' && versionBelow(s.version, MIN_VERSION));
  if (old) {
    return {
      name: 'redis',
      ok: false,
      detail: `${product}, ${shape}: ${old.address} runs ${old.version}`,
      fix: 'tq needs Redis 6.2 or newer: upgrade it',
    };
  }
  if (kind === 'single' && first?.mode === 'cluster') {
    return {
      name: 'redis',
      ok: false,
      detail: `${product} is a cluster node reached by a single-server URL`,
      fix: 'connect with redis+cluster://host:port,...',
    };
  }
  if (kind === 'sentinel' && first && first.connectedReplicas === 0) {
    return {
      name: 'redis',
      ok: false,
      detail: `${product}, ${shape}: a failover has nothing to promote`,
      fix: 'add a replica (replicaof the primary) that the sentinels can promote',
    };
  }
  return { name: 'redis', ok: true, detail: `${product}, ${shape}` };
}

function eachServer(
  name: string,
  servers: ServerFacts[],
  problem: (s: ServerFacts) => string | undefined,
  value: (s: ServerFacts) => string | undefined,
  options: { fix: string },
): DoctorCheck {
  const problems = servers.map((s) => [s, problem(s)] as const).filter(([, p]) => p !== undefined);
  if (problems.length === 0) {
    const values = [...new Set(servers.map((s) => value(s) ?? 'not readable (CONFIG is not allowed here; check it with your provider)'))];
    return { name, ok: true, detail: values.join('; ') };
  }
  // One entry per distinct finding, naming the servers that share it.
  const byText = new Map<string, string[]>();
  for (const [s, p] of problems) byText.set(p!, [...(byText.get(p!) ?? []), s.address]);
  const detail = [...byText].map(([p, addresses]) => `${addresses.join(', ')}: ${p}`).join('; ');
  return { name, ok: false, detail, fix: options.fix };
}

function evictionProblem(s: ServerFacts, allowEviction: boolean): string | undefined {
  if (s.maxmemoryPolicy === undefined || s.maxmemoryPolicy === 'noeviction' || allowEviction) return undefined;
  return `maxmemory-policy is ${s.maxmemoryPolicy}: Redis may evict queued runs`;
}

function persistenceProblem(s: ServerFacts): string | undefined {
  if (s.appendonly === undefined || s.appendonly === 'yes') return undefined;
  return s.save
    ? `appendonly no (snapshots only: a crash loses the runs since the last one)`
    : 'persistence is off: a restart loses every queued run';
}

function hashTagCheck(kind: RedisKind, prefix: string): DoctorCheck {
  const tag = hashTag(prefix);
  if (kind !== 'cluster')
    return {
      name: 'hash-tag',
      ok: true,
      detail: tag ? `prefix "${prefix}" (tag {${tag}}; not needed off a cluster)` : `not a cluster: prefix "${prefix}" needs no tag`,
    };
  if (tag) return { name: 'hash-tag', ok: true, detail: `prefix "${prefix}": every key in the slot of {${tag}}` };
  return {
    name: 'hash-tag',
    ok: false,
    detail: `prefix "${prefix}" has no hash tag: BullMQ's and tq's scripts fail with CROSSSLOT`,
    fix: `use --prefix "{${prefix}}"`,
  };
}

function clockCheck(ownOffsetMs: number, workers: readonly WorkerHeartbeat[]): DoctorCheck {
  const off: string[] = [];
  if (Math.abs(ownOffsetMs) > CLOCK_WARN_MS) off.push(`this host ${describeOffset(ownOffsetMs)}`);
  for (const w of workers) {
    if (w.clockOffsetMs !== undefined && Math.abs(w.clockOffsetMs) > CLOCK_WARN_MS)
      off.push(`worker ${w.name} (${w.host}) ${describeOffset(w.clockOffsetMs)}`);
  }
  if (off.length === 0) return { name: 'clocks', ok: true, detail: `this host and ${workers.length} worker(s) within 1s of Redis's clock` };
  return {
    name: 'clocks',
    ok: false,
    detail: `off Redis's clock by more than 1s: ${off.join(', ')} (delayed runs are promoted on workers' clocks)`,
    fix: 'run NTP (chrony, systemd-timesyncd) on those hosts',
  };
}

/** BullMQ names a worker's blocking connection `<prefix>:<base64 queue>:w:<worker name>`. */
function blockingConsumers(prefix: string, names: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  const head = `${prefix}:`;
  for (const name of names) {
    if (!name.startsWith(head)) continue;
    const m = /^([A-Za-z0-9+/=]+):w:(.+)$/.exec(name.slice(head.length));
    if (!m) continue;
    const key = `${Buffer.from(m[1]!, 'base64').toString('utf8')}\u0000${m[2]!}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function namesCheck(prefix: string, facts: DeploymentFacts): DoctorCheck {
  const problems: string[] = [];
  for (const w of facts.workers) {
    const holder = facts.nameHolders.get(w.name);
    if (holder && holder !== `${w.host}:${w.pid}`) problems.push(`"${w.name}" beats from ${w.host}:${w.pid} but is held by ${holder}`);
  }
  const names = facts.servers.flatMap((s) => s.clientNames ?? []);
  for (const [key, count] of blockingConsumers(prefix, names)) {
    if (count < 2) continue;
    const [queue, name] = key.split('\u0000');
    problems.push(`${count} processes consume queue ${queue} as worker "${name}"`);
  }
  if (problems.length === 0)
    return { name: 'worker-names', ok: true, detail: `${facts.workers.length} live worker(s), each name used once` };
  return {
    name: 'worker-names',
    ok: false,
    detail: problems.join('; '),
    fix: 'give each worker its own -n (tq control shutdown NAME stops every process of that name)',
  };
}

function connectionsCheck(facts: DeploymentFacts): DoctorCheck {
  const expected = facts.workers.reduce((n, w) => n + workerConnections(w.queues.length), 0);
  const perWorker = facts.workers.map((w) => `${w.name} ${workerConnections(w.queues.length)}`).join(', ');
  const tight = facts.servers.filter((s) => s.maxclients !== undefined && s.connectedClients > CLIENTS_SHARE * s.maxclients);
  const totals = facts.servers
    .map((s) => `${s.connectedClients}${s.maxclients !== undefined ? ` of maxclients ${s.maxclients}` : ''}`)
    .join(', ');
  const detail = `clients now: ${totals}; live workers need ${expected}${perWorker ? ` (${perWorker}: 5 + 2 per queue each)` : ''}${facts.cluster ? ' per master' : ''}`;
  if (tight.length === 0) return { name: 'connections', ok: true, detail };
  return {
    name: 'connections',
    ok: false,
    detail: `${detail}: over ${CLIENTS_SHARE * 100}% of maxclients`,
    fix: 'raise maxclients, or run fewer queues per worker process',
  };
}

function historyCheck(h: HistoryFacts): DoctorCheck {
  if (h.missing) return { name: 'history', ok: true, detail: `no history database on this host (${h.dbFile}); nothing to check` };
  const problems: string[] = [];
  if (h.missedTotal > 0)
    problems.push(`${h.missedTotal} batch(es) of run events were trimmed from the stream before this file recorded them`);
  const age = h.oldestUnrecordedMs ?? 0;
  if (h.backlog >= BACKLOG_EVENTS || (h.backlog > 0 && age > BACKLOG_AGE_MS)) {
    problems.push(`${h.backlog >= 10_000 ? 'over 10000' : h.backlog} event(s) not recorded yet, the oldest ${Math.round(age / 1000)}s old`);
  }
  if (problems.length === 0) return { name: 'history', ok: true, detail: `${h.dbFile}: ${h.backlog} event(s) behind the stream, no gaps` };
  return {
    name: 'history',
    ok: false,
    detail: `${h.dbFile}: ${problems.join('; ')}`,
    fix: 'keep a tq worker (or beat, or monitor) running on this host so its recorder follows the stream; raise history.streamMaxLen for long outages',
  };
}

function consumersCheck(unconsumed: { name: string; waiting: number }[]): DoctorCheck {
  if (unconsumed.length === 0) return { name: 'consumers', ok: true, detail: 'every queue with waiting runs has a live worker' };
  return {
    name: 'consumers',
    ok: false,
    detail: `waiting runs and no live worker: ${unconsumed.map((q) => `${q.name} (${q.waiting})`).join(', ')}`,
    fix: `start a worker for them: tq worker -Q ${unconsumed.map((q) => q.name).join(',')}`,
  };
}
