/**
 * What `tq doctor` reads from Redis about a deployment: each data server's version, settings and
 * clients, the live workers' heartbeats and name holders, the run-event stream. Facts only;
 * judging them is the doctor's (cli/doctor-checks.ts), so the rules are tested without Redis.
 */
import { errorMessage } from '../core/errors.js';
import { isCluster, serverNodes, type Redis } from './connection.js';
import { liveWorkers, type WorkerHeartbeat } from './heartbeat.js';
import { tqKeys } from './keys.js';

export interface ServerFacts {
  /** `host:port` as the connection sees it. */
  address: string;
  /** `redis`, or `valkey` / `dragonfly` / `keydb` when INFO says so. */
  product: string;
  version: string;
  /** INFO's `redis_mode`: standalone, cluster or sentinel. */
  mode: string;
  /** master / slave (INFO replication). */
  role: string;
  connectedReplicas: number;
  /** Undefined: CONFIG is not allowed (managed services). */
  maxmemoryPolicy?: string;
  appendonly?: string;
  save?: string;
  maxclients?: number;
  connectedClients: number;
  /** CLIENT LIST's names (one per connection); undefined when CLIENT LIST is not allowed. */
  clientNames?: string[];
}

export interface DeploymentFacts {
  cluster: boolean;
  servers: ServerFacts[];
  workers: WorkerHeartbeat[];
  /** Who holds each live worker's name (`host:pid`), by name. */
  nameHolders: Map<string, string | null>;
  /** The run-event stream: its length and last id (undefined when it does not exist yet). */
  stream: { length: number; lastId?: string };
}

const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();

async function configValue(node: Redis, name: string): Promise<string | undefined> {
  try {
    const reply = (await node.config('GET', name)) as string[];
    return reply[1];
  } catch (err) {
    // CONFIG is often disabled on managed services (an unknown or forbidden command).
    if (/NOPERM|unknown command|not allowed|disabled/i.test(errorMessage(err))) return undefined;
    throw err;
  }
}

async function serverFacts(node: Redis): Promise<ServerFacts> {
  const info = await node.info();
  const product = field(info, 'valkey_version') ? 'valkey' : field(info, 'dragonfly_version') ? 'dragonfly' : 'redis';
  const [maxmemoryPolicy, appendonly, save, maxclients] = await Promise.all(
    ['maxmemory-policy', 'appendonly', 'save', 'maxclients'].map((n) => configValue(node, n)),
  );
  let clientNames: string[] | undefined;
  try {
    const list = (await node.client('LIST')) as string;
    clientNames = list
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => /(?:^| )name=(\S*)/.exec(l)?.[1] ?? '');
  } catch (err) {
    if (!/NOPERM|unknown command|not allowed/i.test(errorMessage(err))) throw err;
  }
  const facts: ServerFacts = {
    address: node.stream?.remoteAddress
      ? `${node.stream.remoteAddress}:${node.stream.remotePort}`
      : `${node.options.host}:${node.options.port}`,
    product,
    version: field(info, 'valkey_version') ?? field(info, 'redis_version') ?? 'unknown',
    mode: field(info, 'redis_mode') ?? 'standalone',
    role: field(info, 'role') ?? 'master',
    connectedReplicas: Number(field(info, 'connected_slaves') ?? 0),
    connectedClients: Number(field(info, 'connected_clients') ?? 0),
  };
  if (maxmemoryPolicy !== undefined) facts.maxmemoryPolicy = maxmemoryPolicy;
  if (appendonly !== undefined) facts.appendonly = appendonly;
  if (save !== undefined) facts.save = save;
  if (maxclients !== undefined) facts.maxclients = Number(maxclients);
  if (clientNames) facts.clientNames = clientNames;
  return facts;
}

/** Reads the deployment's facts (writes nothing but the pruning of expired worker names, as inspect does). */
export async function gatherDeployment(redis: Redis, prefix: string): Promise<DeploymentFacts> {
  const keys = tqKeys(prefix);
  const [servers, workers, stream] = await Promise.all([
    Promise.all(serverNodes(redis).map((node) => serverFacts(node))),
    liveWorkers(redis, prefix),
    streamFacts(redis, keys.events),
  ]);
  const holders = workers.length > 0 ? await redis.mget(...workers.map((w) => keys.workerName(w.name))) : [];
  return {
    cluster: isCluster(redis),
    servers,
    workers,
    nameHolders: new Map(workers.map((w, i) => [w.name, holders[i] ?? null])),
    stream,
  };
}

async function streamFacts(redis: Redis, key: string): Promise<DeploymentFacts['stream']> {
  const [length, last] = await Promise.all([redis.xlen(key), redis.xrevrange(key, '+', '-', 'COUNT', 1)]);
  const lastId = last[0]?.[0];
  return lastId ? { length, lastId } : { length };
}

/**
 * The run-event stream's entries after `afterId` (a recorder's backlog): how many, counted up to
 * `cap`, and the first one's id (its time says how long it has waited).
 */
export async function streamBacklog(
  redis: Redis,
  prefix: string,
  afterId: string,
  cap = 10_000,
): Promise<{ count: number; firstId?: string }> {
  const entries = await redis.xrange(tqKeys(prefix).events, `(${afterId}`, '+', 'COUNT', cap);
  const firstId = entries[0]?.[0];
  return firstId ? { count: entries.length, firstId } : { count: 0 };
}
