/**
 * Jobs whose hash cannot be read: `data`, `opts`, `progress` or `parent` that is not JSON,
 * written by another client or by hand. BullMQ parses those fields in JavaScript after the Lua
 * side has already moved the job, so one such job used to break every read that met it (`tq
 * inspect`, `tq control`) and, in a worker, was taken (active, locked) and then lost by the
 * fetch that threw: it stalled back, was taken again, and never failed.
 *
 * Here every queue and worker tq makes reads jobs through `TolerantJob`, which stands a
 * placeholder in for a field that does not parse and remembers why (`unparseableOf(job)`):
 * readers show what they can, and a worker fails the run at once with the reason, through
 * BullMQ's own failure path (so the `failed` event, history and retention work as for any run).
 */
import type { BackendFactory, Job as BullJob, JobJson, Processor, QueueOptions, RedisQueueBackend, WorkerOptions } from 'bullmq';
import { Job, Queue, raw2NextJobData, UnrecoverableError, Worker } from './engine.js';

/** What could not be parsed in a job's hash, and a short sample of it. */
export interface Unparseable {
  field: 'data' | 'opts' | 'progress' | 'parent';
  /** The parser's complaint. */
  reason: string;
  /** The start of the stored text, for people to recognise it. */
  sample: string;
}

/** Fields of a job hash BullMQ's JavaScript side parses as JSON (beside `data`). */
const PARSED_FIELDS = ['opts', 'progress', 'parent'] as const;
/** What stands in for a field that does not parse. */
const PLACEHOLDER: Record<Unparseable['field'], string | undefined> = { data: 'null', opts: '{}', progress: '0', parent: undefined };
/** Lua replies that carry the next job's hash to a worker (BullMQ 6 command names). */
const NEXT_JOB_COMMANDS = new Set(['moveToActive', 'moveToFinished', 'moveToDelayed']);
const SAMPLE_CHARS = 80;

/** Problems found by a queue's reads, by job id, until the job object is made from them. */
const found = new WeakMap<object, Map<string, Unparseable>>();
/** The problem of each job object made from an unparseable hash. */
const problems = new WeakMap<object, Unparseable>();

/** Why `job` could not be read as stored, if it could not (its unreadable fields are placeholders). */
export function unparseableOf(job: BullJob): Unparseable | undefined {
  return problems.get(job);
}

/** The reason a run with an unreadable hash fails with: what is wrong, and what to do. */
export function unparseableReason(problem: Unparseable): string {
  return (
    `unparseable job: its ${problem.field} is not JSON (${problem.reason}; stored text starts ${JSON.stringify(problem.sample)}); ` +
    'it was written outside tq or edited by hand: enqueue the run again'
  );
}

/** A one-line summary for tables: `(unparseable data)`. */
export function unparseableLabel(problem: Unparseable): string {
  return `(unparseable ${problem.field})`;
}

function problemOf(field: Unparseable['field'], err: SyntaxError, text: string): Unparseable {
  return { field, reason: err.message, sample: text.length > SAMPLE_CHARS ? `${text.slice(0, SAMPLE_CHARS)}…` : text };
}

/** The JSON parse error of `text`, if any (any other error is a bug and is thrown). */
function parseError(text: string): SyntaxError | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    if (err instanceof SyntaxError) return err;
    throw err;
  }
}

function remember(owner: object, id: string, problem: Unparseable): void {
  let byId = found.get(owner);
  if (!byId) found.set(owner, (byId = new Map()));
  // The first problem found is the one reported (a later, data, one is no more telling).
  if (!byId.has(id)) byId.set(id, problem);
}

/**
 * A job hash with every field BullMQ would fail to parse (other than `data`, which `TolerantJob`
 * handles) replaced by its placeholder; the problem is remembered for the job's id on `owner`.
 */
function sanitizeHash(owner: object, id: string, hash: Record<string, string>): Record<string, string> {
  let out = hash;
  for (const field of PARSED_FIELDS) {
    const text = hash[field];
    if (text === undefined || text === '') continue;
    const err = parseError(text);
    if (!err) continue;
    remember(owner, id, problemOf(field, err, text));
    out = { ...out };
    const placeholder = PLACEHOLDER[field];
    if (placeholder === undefined) delete out[field];
    else out[field] = placeholder;
  }
  return out;
}

/** The same for a hash as Lua returns it: a flat `[field, value, ...]` array. */
function sanitizeFlat(owner: object, id: string, flat: unknown[]): unknown[] {
  // The common case, once per run fetched: every parsed field parses. Checked in place, without
  // building a hash first (a hash per run cost a noticeable part of a no-op run).
  let parses = true;
  for (let i = 0; i + 1 < flat.length && parses; i += 2) {
    const name = flat[i];
    if (name !== 'opts' && name !== 'progress' && name !== 'parent') continue;
    const text = String(flat[i + 1]);
    if (text !== '' && parseError(text)) parses = false;
  }
  if (parses) return flat;
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[String(flat[i])] = String(flat[i + 1]);
  const clean = sanitizeHash(owner, id, hash);
  return clean === hash ? flat : Object.entries(clean).flat();
}

/**
 * BullMQ's Job, made tolerant: a `data` that is not JSON becomes `null`, and fields replaced
 * earlier by this queue's reads are recorded, both for `unparseableOf`.
 */
class TolerantJob extends Job {
  static override fromJSON<T = unknown, R = unknown, N extends string = string>(
    queue: Parameters<typeof Job.fromJSON>[0],
    json: JobJson,
    jobId?: string,
  ): BullJob<T, R, N> {
    const id = jobId ?? json.id;
    const earlier = id !== undefined ? found.get(queue)?.get(id) : undefined;
    if (earlier) found.get(queue)!.delete(id!);
    let job: BullJob<T, R, N>;
    let problem = earlier;
    try {
      job = super.fromJSON<T, R, N>(queue, json, jobId);
    } catch (err) {
      // Only `data` is parsed here: any other failure is not about the stored text.
      if (!(err instanceof SyntaxError)) throw err;
      problem ??= problemOf('data', err, json.data ?? '');
      job = super.fromJSON<T, R, N>(queue, { ...json, data: PLACEHOLDER.data! }, jobId);
    }
    if (problem) problems.set(job, problem);
    return job;
  }
}

/** The backend methods wrapped below (BullMQ 6's Redis backend; both are public there). */
interface RedisBackendParts {
  execCommand(client: unknown, commandName: string, args: unknown[]): unknown;
  getJobData(jobId: string): Promise<JobJson | undefined>;
  readonly client: Promise<{ hgetall(key: string): Promise<Record<string, string>> }>;
  toKey(id: string): string;
}

/**
 * Reads of one job (`getJob`, lists, `inspect`): an `opts`, `progress` or `parent` that does not
 * parse fails BullMQ's decoding of the whole hash; read it again raw, with placeholders. The
 * extra read happens only for such a job.
 */
function tolerateJobReads(owner: object, backend: RedisBackendParts): void {
  const original = backend.getJobData.bind(backend);
  backend.getJobData = async (jobId) => {
    try {
      return await original(jobId);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const hash = await (await backend.client).hgetall(backend.toKey(jobId));
      if (Object.keys(hash).length === 0) return undefined;
      return nextJobJson(sanitizeHash(owner, jobId, hash), jobId);
    }
  };
}

/** Decodes a (clean) hash the way BullMQ does, through its exported reply decoder. */
function nextJobJson(hash: Record<string, string>, id: string): JobJson | undefined {
  const [json] = raw2NextJobData([Object.entries(hash).flat(), id, 0, 0]) as [JobJson | undefined];
  return json;
}

/**
 * Replies that hand a worker its next job: the hash is sanitised before BullMQ decodes it, so a
 * bad `opts` cannot throw after the job was made active and locked for this worker.
 */
function tolerateNextJobReplies(owner: object, backend: RedisBackendParts): void {
  const original = backend.execCommand.bind(backend);
  backend.execCommand = (client, commandName, args) => {
    const reply = original(client, commandName, args);
    if (!NEXT_JOB_COMMANDS.has(commandName)) return reply;
    return (reply as Promise<unknown>).then((raw) => {
      if (!Array.isArray(raw) || !Array.isArray(raw[0]) || typeof raw[1] !== 'string') return raw;
      const flat = sanitizeFlat(owner, raw[1], raw[0] as unknown[]);
      return flat === raw[0] ? raw : [flat, ...raw.slice(1)];
    });
  };
}

/** A BullMQ Queue whose reads tolerate unparseable jobs (see `unparseableOf`). */
export class TolerantQueue extends Queue {
  constructor(name: string, opts: QueueOptions) {
    super(name, opts);
    tolerateJobReads(this, this.backend as unknown as RedisBackendParts);
  }

  protected override get Job(): typeof Job {
    return TolerantJob as unknown as typeof Job;
  }
}

/**
 * A BullMQ Worker that fails an unparseable job at once, by id, with the reason (an
 * `UnrecoverableError`: no retry can fix the stored text), instead of losing it to a throw.
 */
export class TolerantWorker extends Worker {
  constructor(name: string, processor: Processor, opts: WorkerOptions, backendFactory?: BackendFactory<RedisQueueBackend>) {
    super(name, processor, opts, backendFactory as BackendFactory<RedisQueueBackend>);
    const backend = this.backend as unknown as RedisBackendParts;
    tolerateNextJobReplies(this, backend);
    tolerateJobReads(this, backend);
  }

  protected override get Job(): typeof Job {
    return TolerantJob as unknown as typeof Job;
  }

  protected override callProcessJob(job: BullJob, token: string, signal?: AbortSignal): Promise<unknown> {
    const problem = unparseableOf(job);
    if (problem) return Promise.reject(new UnrecoverableError(unparseableReason(problem)));
    return super.callProcessJob(job, token, signal);
  }
}
