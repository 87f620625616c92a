import { parseDuration } from '../../core/duration.js';
import { RuntimeError, UsageError, errorMessage } from '../../core/errors.js';
import { failNotEnqueued } from '../../core/not-enqueued.js';
import type { EnqueueOptions, PreparedRun } from '../../core/task.js';
import type { ResolvedConfig, Settings } from '../../config/index.js';
import { Admin, Producer, type EnqueuedRun, type RunOutcome, type WorkerHeartbeat } from '../../queue/index.js';
import { catchUpHistory, catchUpUntilFinal } from '../../runtime/history.js';
import { checkPlainPayload, enqueuedRunJson, payloadFromArgs } from '../../runtime/enqueue-checks.js';
import { runKnownToHistory } from '../../runtime/known-run.js';
import { openStore } from '../../store/index.js';
import type { CliContext } from '../context.js';

/** Progress bars (cli-progress) only for files, many runs and --wait: a plain enqueue never loads them. */
const createProgress = async (...args: Parameters<typeof import('../progress.js').createProgress>) =>
  (await import('../progress.js')).createProgress(...args);

export { payloadFromArgs } from '../../runtime/enqueue-checks.js';

export interface EnqueueCommandOptions {
  payload?: string;
  queue?: string;
  delay?: string;
  at?: string;
  priority?: string;
  attempts?: string;
  id?: string;
  expires?: string;
  timeLimit?: string;
  wait?: boolean;
  timeout?: string;
  json?: boolean;
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${flag} must be an integer (got "${value}")`);
  return n;
}

/** `tq enqueue <task> [args...]`. */
export async function enqueueCommand(ctx: CliContext, taskName: string, args: string[], opts: EnqueueCommandOptions): Promise<number> {
  const config = await ctx.config();
  const settings = ctx.settings(config);
  const task = config.tasks.get(taskName);
  if (!task) throw new UsageError(`unknown task "${taskName}" (known: ${[...config.tasks.keys()].sort().join(', ')})`);

  const options: EnqueueOptions = {};
  if (opts.queue !== undefined) options.queue = opts.queue;
  if (opts.delay !== undefined) options.delay = parseDuration(opts.delay, '--delay');
  if (opts.at !== undefined) options.at = opts.at;
  const priority = integer(opts.priority, '--priority');
  if (priority !== undefined) options.priority = priority;
  const attempts = integer(opts.attempts, '--attempts');
  if (attempts !== undefined) options.attempts = attempts;
  if (opts.id !== undefined) options.id = opts.id;
  if (opts.expires !== undefined) options.expires = parseDuration(opts.expires, '--expires');
  if (opts.timeLimit !== undefined) options.timeLimit = parseDuration(opts.timeLimit, '--time-limit');
  const timeoutMs = opts.timeout !== undefined ? parseDuration(opts.timeout, '--timeout') : undefined;

  const usesFiles = typeof task.definition.fromArgs === 'function' && args.length > 0;
  if (usesFiles && opts.id !== undefined && args.length > 1) throw new UsageError('--id names one run; give one file with it');
  if (usesFiles && opts.payload !== undefined)
    throw new UsageError(`task "${task.name}" takes files; --payload cannot be combined with them`);
  if (task.definition.fromArgs && args.length === 0 && opts.payload === undefined) {
    throw new UsageError(`${task.name} needs at least one file`, { hint: `usage: tq enqueue ${task.name} <file> [more files...]` });
  }
  const plainPayload = usesFiles ? undefined : payloadFromArgs(task, args, opts.payload, ctx.cwd);
  if (!usesFiles && !task.definition.fromArgs) checkPlainPayload(task, plainPayload, config.payloadLimit);

  const producer = await Producer.connect(config, { ...settings, onWarning: (m) => ctx.out.warn(m) });
  const store = openStore(settings.dbFile, { prefix: settings.prefix });
  let prepared: PreparedRun<unknown>[] = [];
  // Once the runs are added, a later failure (a --wait timeout) is theirs, not a failed enqueue.
  let enqueued = false;
  try {
    if (usesFiles) {
      const bar = await createProgress(ctx.out, 'storing', args.length);
      try {
        prepared = await task.definition.fromArgs!(args, {
          cwd: ctx.cwd,
          media: config.mediaDir,
          db: store.records,
          tick: () => bar.increment(),
        });
      } finally {
        bar.stop();
      }
    } else {
      prepared = [{ payload: plainPayload }];
    }

    // Follow finished runs before adding any, so a run that is done (and gone) at once is seen.
    if (opts.wait) await producer.watch(opts.queue ?? task.queue);
    // Listening for Ctrl-C from before the id is printed: a signal right after it must not kill
    // the process without saying how to follow the run.
    const stopped = opts.wait ? new Promise<'stopped'>((resolve) => ctx.signals.onStop(() => resolve('stopped'))) : undefined;
    let runs: EnqueuedRun[];
    const known = opts.id !== undefined ? runKnownToHistory(store, opts.id) : undefined;
    if (known) {
      runs = [known];
    } else if (prepared.length === 1) {
      runs = [await producer.enqueue(task.name, prepared[0]!.payload, options)];
    } else {
      const bar = await createProgress(ctx.out, 'enqueuing', prepared.length);
      try {
        runs = await producer.enqueueMany(
          prepared.map((p) => ({ task: task.name, payload: p.payload, options })),
          (done) => bar.update(done),
        );
      } finally {
        bar.stop();
      }
    }
    enqueued = true;
    // The runs' events are written in the background: have them in the stream before catching up.
    await producer.flush();
    await catchUpHistory(store, producer.runEvents(), settings, config).catch((err: unknown) =>
      ctx.out.warn(`history not updated yet: ${errorMessage(err)}`),
    );

    const outcomes = new Map<string, RunOutcome>();
    const fresh = runs.filter((r) => !r.existed);
    // The id first under --wait: a wait can be long, and a Ctrl-C must not lose it.
    if (opts.wait && runs.length === 1) announce(ctx, runs[0]!, prepared[0]);
    if (opts.queue !== undefined || opts.wait) await warnUnconsumed(ctx, config, settings, fresh, opts.wait === true);
    if (opts.wait) {
      const bars: { stop(): void }[] = [];
      const waiting = Promise.all(
        runs.map(async (run) => {
          const existing = run.existed ? store.runs.get(run.id) : undefined;
          if (existing?.state === 'completed')
            return outcomes.set(run.id, { state: 'completed', result: existing.result === null ? null : JSON.parse(existing.result) });
          if (existing?.state === 'failed') return outcomes.set(run.id, { state: 'failed', error: existing.error ?? 'failed' });
          const bar = runs.length === 1 ? await createProgress(ctx.out, 'progress', 100) : undefined;
          if (bar) bars.push(bar);
          try {
            outcomes.set(run.id, await producer.wait(run, timeoutMs, (value) => typeof value === 'number' && bar?.update(value)));
          } finally {
            bar?.stop();
          }
        }),
      );
      if ((await Promise.race([waiting, stopped!])) === 'stopped') {
        for (const bar of bars) bar.stop();
        // The user stopped waiting, not the runs: what the abandoned waits end with (the
        // producer closes under them) is not this command's result any more.
        waiting.then(
          () => undefined,
          () => undefined,
        );
        stoppedWaiting(ctx, runs);
        return 130;
      }
      const finished = runs.filter((r) => outcomes.get(r.id)?.state !== 'timeout').map((r) => r.id);
      await catchUpUntilFinal(store, producer.runEvents(), settings, config, finished).catch(() => undefined);
    }
    return report(ctx, runs, prepared, outcomes, opts);
  } catch (err) {
    if (!enqueued) failNotEnqueued(store.records, prepared, err);
    throw err;
  } finally {
    await producer.close();
    store.close();
  }
}

function report(
  ctx: CliContext,
  runs: EnqueuedRun[],
  prepared: PreparedRun<unknown>[],
  outcomes: Map<string, RunOutcome>,
  opts: EnqueueCommandOptions,
): number {
  const { out } = ctx;
  const docs = runs.map((run, i) => enqueuedRunJson(run, prepared[i]?.meta, outcomes.get(run.id)));
  const failed = [...outcomes.values()].filter((o) => o.state !== 'completed').length;
  if (opts.json) {
    out.json(docs.length === 1 && prepared.length <= 1 ? docs[0] : { runs: docs });
    return failed > 0 ? 1 : 0;
  }
  if (runs.length === 1) {
    const run = runs[0]!;
    if (!opts.wait) announce(ctx, run, prepared[0]);
    const outcome = outcomes.get(run.id);
    if (outcome?.state === 'completed') out.print(JSON.stringify(outcome.result, null, 2));
    if (outcome && outcome.state !== 'completed' && outcome.state !== 'timeout') {
      throw new RuntimeError('E_TASK_FAILED', `run ${run.id} ${outcome.state}: ${outcome.error}`);
    }
    if (outcome?.state === 'timeout')
      throw new RuntimeError('E_TIMEOUT', `run ${run.id} is still ${outcome.lastState} after ${opts.timeout}`, {
        hint: 'it keeps going; check it later with tq inspect',
      });
    if (!outcome) out.print(run.id);
    return 0;
  }
  out.info(`enqueued ${runs.length} runs of ${runs[0]?.task ?? ''} on queue ${[...new Set(runs.map((r) => r.queue))].join(', ')}`);
  for (const doc of docs) {
    const extra = doc.error ? ` ${doc.error}` : '';
    out.print(`${doc.id}\t${doc.state}${typeof doc.recordId === 'string' ? `\t${doc.recordId}` : ''}${extra}`);
  }
  if (failed > 0) throw new RuntimeError('E_TASK_FAILED', `${failed} of ${runs.length} runs did not complete`);
  return 0;
}

/** The enqueue line on stderr (`enqueued hello run <id> on queue default (waiting)`), before any wait. */
function announce(ctx: CliContext, run: EnqueuedRun, prepared: PreparedRun<unknown> | undefined): void {
  const { out } = ctx;
  const recordId = prepared?.meta?.recordId;
  const record = typeof recordId === 'string' ? `, record ${recordId}` : '';
  if (run.existed) out.info(`run ${run.id} already exists (${run.state}); nothing enqueued`);
  else out.info(`enqueued ${run.task} run ${out.color.bold(run.id)} on queue ${run.queue} (${run.state}${record})`);
}

/** Ctrl-C under `--wait`: the runs are not cancelled; say how to follow or cancel them. */
function stoppedWaiting(ctx: CliContext, runs: readonly EnqueuedRun[]): void {
  if (runs.length === 1) {
    const id = runs[0]!.id;
    ctx.out.info(`tq: stopped waiting; run ${id} goes on — follow it: tq inspect task ${id}; cancel it: tq control cancel ${id}`);
    return;
  }
  const task = runs[0]?.task ?? '';
  ctx.out.info(
    `tq: stopped waiting; the ${runs.length} runs go on — follow them: tq inspect tasks --task ${task}; cancel one: tq control cancel <id>`,
  );
}

/**
 * A run on a queue no live worker consumes (`-q nosuch`, or no worker started yet) waits
 * until one does: say so, from the workers' heartbeats, instead of enqueueing into silence.
 */
async function warnUnconsumed(
  ctx: CliContext,
  config: ResolvedConfig,
  settings: Settings,
  runs: readonly EnqueuedRun[],
  waiting: boolean,
): Promise<void> {
  if (runs.length === 0) return;
  const admin = await Admin.connect(config, { ...settings, onWarning: (m) => ctx.out.warn(m) });
  let workers: WorkerHeartbeat[];
  try {
    workers = await admin.workers();
  } finally {
    await admin.close();
  }
  for (const queue of new Set(runs.map((r) => r.queue))) {
    if (workers.some((w) => w.queues.includes(queue))) continue;
    const then = waiting ? '; --wait may wait forever (add --timeout)' : '';
    ctx.out.warn(`no live worker consumes queue "${queue}": the run waits until one does (tq worker -Q ${queue})${then}`);
  }
}
