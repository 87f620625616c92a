import { errorMessage } from '../core/errors.js';
import type { QueueEventBatch, QueueEventSource, RunEvent } from '../core/run-events.js';
import type { Redis } from './connection.js';
import { entryFields, fromQueueEntry, JOB_FIELDS, movesRun, type JobHash } from './bull-events.js';
import { tqKeys } from './keys.js';

/** How often the recorder looks for queues nothing registered (a plain producer's). */
const DISCOVER_EVERY_MS = 30_000;
/** Jobs read ahead of their entries' turn, at most (a plain producer's burst within the lag). */
const JOBS_KEPT = 20_000;
/** SCAN calls per discovery pass at most (COUNT 1,000 each): bounded work on a big keyspace. */
const SCAN_CALLS_PER_PASS = 10;

/**
 * A queue name as BullMQ allows it and tq can follow: tq reserves names starting with `_` for its
 * own keys, and a name with `:` cannot be told from a job key.
 */
function followable(name: string): boolean {
  return name.length > 0 && !name.startsWith('_') && !name.includes(':');
}

/**
 * Reads BullMQ's own event streams of every queue under a prefix, for the recorder (see
 * `bull-events.ts` for why). Queues come from tq's registry (tq workers and producers add
 * theirs) and from a bounded SCAN for BullMQ's `<prefix>:<queue>:meta` keys every 30 s, which
 * every queue gets at its first job whoever added it: a queue only plain BullMQ producers feed is
 * found that way and added to the registry, so `inspect`, the monitor and `control purge` see it.
 *
 * Cost per recorder step: one XREAD over all queues' streams; one HMGET per run history does not
 * know yet (a plain producer's: its payload and enqueue time), none for tq's own runs.
 */
export class QueueEventsReader implements QueueEventSource {
  private known: string[] = [];
  private discoveredAt = Number.NEGATIVE_INFINITY;
  private cursor = '0';
  /** Which master the scan is on (a Redis Cluster has several). */
  private node = 0;
  private readonly found = new Set<string>();
  /** Queues found but not yet in the registry (Redis refused the write). */
  private unregistered: string[] = [];
  private readonly jobs = new Map<string, JobHash>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly discoverEveryMs = DISCOVER_EVERY_MS,
  ) {}

  async queues(): Promise<string[]> {
    const now = Date.now();
    if (now - this.discoveredAt < this.discoverEveryMs) return this.known;
    this.discoveredAt = now;
    await this.discover();
    const registered = await this.redis.smembers(tqKeys(this.prefix).queues);
    this.known = [...new Set([...registered.filter(followable), ...this.found])].sort();
    return this.known;
  }

  /**
   * One bounded part of a SCAN for `<prefix>:*:meta`; newly found queues join the registry. On a
   * Redis Cluster the scan goes to the masters in turn (with a hash-tagged prefix, one of them
   * holds every key).
   */
  private async discover(): Promise<void> {
    const head = `${this.prefix}:`;
    const fresh: string[] = [];
    const cluster = this.redis as unknown as { nodes?: (role: 'master') => Redis[] };
    const nodes = typeof cluster.nodes === 'function' ? cluster.nodes('master') : [this.redis];
    for (let i = 0; i < SCAN_CALLS_PER_PASS && nodes.length > 0; i++) {
      const node = nodes[this.node % nodes.length]!;
      const [next, keys] = await node.scan(this.cursor, 'MATCH', `${head}*:meta`, 'COUNT', 1000);
      this.cursor = next;
      // This node's keyspace is done: the next pass (or call) starts on the next node.
      if (next === '0') this.node += 1;
      for (const key of keys) {
        const name = key.slice(head.length, -':meta'.length);
        if (followable(name) && !this.found.has(name)) {
          this.found.add(name);
          fresh.push(name);
        }
      }
      if (next === '0' && this.node % nodes.length === 0) break;
    }
    const unregistered = [...this.unregistered, ...fresh];
    if (unregistered.length === 0) return;
    try {
      await this.redis.sadd(tqKeys(this.prefix).queues, ...unregistered);
      this.unregistered = [];
    } catch (err) {
      // Redis refusing writes (at maxmemory with noeviction, or a read-only replica) must not stop
      // history from catching up: the queues are followed from `found`, and registered later.
      if (!/^(OOM|READONLY)\b/.test(errorMessage(err))) throw err;
      this.unregistered = unregistered;
    }
  }

  async read(
    positions: ReadonlyMap<string, string>,
    count: number,
    known: (jobId: string) => boolean,
    until = Number.POSITIVE_INFINITY,
  ): Promise<QueueEventBatch[]> {
    const queues = [...positions.keys()];
    if (queues.length === 0) return [];
    const keys = queues.map((q) => `${this.prefix}:${q}:events`);
    const reply = (await this.redis.xread('COUNT', count, 'STREAMS', ...keys, ...queues.map((q) => positions.get(q)!))) as
      [string, [string, string[]][]][] | null;
    if (!reply) return [];
    const parsed = reply.map(([key, entries]) => ({
      queue: queues[keys.indexOf(key)]!,
      entries: entries.map(([id, raw]) => ({ id, ms: Number(id.split('-')[0]), fields: entryFields(raw) })),
    }));
    // The runs history does not know yet: read their jobs (payload, enqueue time, name) in one
    // pipeline, including runs added within the lag (applied at a later read): a job finished and
    // removed (`keep: 0`) within that second would be gone by then.
    const wanted = new Map<string, { queue: string; id: string }>();
    const names = new Map<string, string>();
    const checked = new Set<string>();
    for (const { queue, entries } of parsed) {
      for (const { fields } of entries) {
        const type = fields.get('event');
        const jobId = fields.get('jobId');
        if (!movesRun(type) || !jobId) continue;
        const key = `${queue}:${jobId}`;
        if (type === 'added' && fields.has('name')) names.set(key, fields.get('name')!);
        // One question per run and read, not per entry (a run has several).
        if (checked.has(key) || this.jobs.has(key)) continue;
        checked.add(key);
        if (!known(jobId)) wanted.set(key, { queue, id: jobId });
      }
    }
    for (const [key, job] of await this.readJobs([...wanted.values()])) this.remember(key, job);
    const batches: QueueEventBatch[] = [];
    for (const { queue, entries } of parsed) {
      // Entries are in time order: apply those up to `until`; the rest come again next time.
      const cut = entries.findIndex((e) => e.ms > until);
      const applied = cut < 0 ? entries : entries.slice(0, cut);
      if (applied.length === 0) continue;
      const events: RunEvent[] = [];
      for (const { id, fields } of applied) {
        const key = `${queue}:${fields.get('jobId') ?? ''}`;
        const job = this.jobs.get(key);
        const event = fromQueueEntry(queue, id, fields, job, job?.name ?? names.get(key) ?? '');
        if (event) events.push(event);
        // Its payload is in history once `added` is applied.
        if (fields.get('event') === 'added') this.jobs.delete(key);
      }
      batches.push({ queue, lastId: applied[applied.length - 1]!.id, read: applied.length, events });
    }
    return batches;
  }

  /** Jobs read ahead of applying their entries, by `<queue>:<id>` (bounded). */
  private remember(key: string, job: JobHash): void {
    this.jobs.set(key, job);
    if (this.jobs.size > JOBS_KEPT) this.jobs.delete(this.jobs.keys().next().value!);
  }

  private async readJobs(runs: readonly { queue: string; id: string }[]): Promise<Map<string, JobHash>> {
    const out = new Map<string, JobHash>();
    if (runs.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const run of runs) pipe.hmget(`${this.prefix}:${run.queue}:${run.id}`, ...JOB_FIELDS);
    const replies = (await pipe.exec()) ?? [];
    replies.forEach(([err, value], i) => {
      if (err) throw err;
      const values = value as (string | null)[];
      const job: JobHash = {};
      JOB_FIELDS.forEach((f, j) => {
        const v = values[j];
        if (v !== null && v !== undefined) job[f] = v;
      });
      const run = runs[i]!;
      out.set(`${run.queue}:${run.id}`, job);
    });
    return out;
  }
}
