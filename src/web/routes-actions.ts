/**
 * Action routes: enqueue (operator), retry, cancel, pause, resume (operator), purge and
 * shutdown (admin). Each answers the document its `tq enqueue` / `tq control` command prints
 * with `--json`, and is written to the audit table.
 */
import { Type } from '@fastify/type-provider-typebox';
import { parseDuration } from '../core/duration.js';
import { RuntimeError, UsageError } from '../core/errors.js';
import { isFinalState } from '../core/states.js';
import type { EnqueueOptions } from '../core/task.js';
import type { PurgeState, RunOutcome } from '../queue/index.js';
import { checkPlainPayload, enqueuedRunJson, payloadFromArgs } from '../runtime/enqueue-checks.js';
import { mustExist } from '../runtime/inspect-reads.js';
import { runKnownToHistory } from '../runtime/known-run.js';
import { audited, type WebApp } from './audited.js';
import type { WebContext } from './context.js';
import { AnyObject, doc, IdParams, QueueParams, responses } from './schemas.js';

const operator = (action: string) => ({ role: 'operator' as const, action });
const admin = (action: string) => ({ role: 'admin' as const, action });
const MAX_WAIT_MS = 5 * 60_000;

const EnqueueBody = Type.Object(
  {
    task: Type.String({ minLength: 1, maxLength: 256, description: 'task name from the config' }),
    payload: Type.Optional(Type.Unknown({ description: 'the payload (JSON); merged under args like --payload' })),
    args: Type.Optional(Type.Array(Type.String(), { maxItems: 64, description: "positional arguments mapped onto the task's args" })),
    queue: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    delay: Type.Optional(Type.String({ description: 'start no earlier than this from now (10s, 5m)' })),
    at: Type.Optional(Type.String({ description: 'start no earlier than this time (ISO 8601)' })),
    priority: Type.Optional(Type.Integer()),
    attempts: Type.Optional(Type.Integer()),
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    expires: Type.Optional(Type.String()),
    timeLimit: Type.Optional(Type.String()),
    wait: Type.Optional(Type.Boolean({ description: 'answer when the run has finished (at most 5 minutes)' })),
    timeout: Type.Optional(Type.String({ description: 'with wait: give up after this long' })),
  },
  { additionalProperties: false },
);

export function registerActionRoutes(app: WebApp, ctx: WebContext): void {
  app.post(
    '/api/enqueue',
    {
      config: operator('enqueue'),
      schema: {
        summary: 'Enqueue a run of a task (tq enqueue --json): same checks, limits and schemas',
        tags: ['actions'],
        body: EnqueueBody,
        response: responses(
          doc({ id: Type.String(), task: Type.String(), queue: Type.String(), state: Type.String() }, 'the run'),
          400,
          404,
          409,
          422,
          503,
        ),
      },
    },
    async (request) => {
      const body = request.body;
      return audited(
        ctx,
        request,
        { action: 'enqueue', target: body.task },
        () => enqueue(ctx, body),
        (r) => ({ id: r.id }),
      );
    },
  );

  app.post(
    '/api/runs/:id/retry',
    {
      config: operator('retry'),
      schema: {
        summary: 'Retry a failed run (tq control retry <id> --json)',
        tags: ['actions'],
        params: IdParams,
        response: responses(doc({ retried: Type.Array(Type.String()), count: Type.Integer() }, 'retried'), 404, 409, 503),
      },
    },
    async (request) => {
      const { id } = request.params;
      return audited(ctx, request, { action: 'retry', target: id }, async () => {
        await ctx.admin.retry(id);
        return { retried: [id], count: 1 };
      });
    },
  );

  app.post(
    '/api/runs/:id/cancel',
    {
      config: operator('cancel'),
      schema: {
        summary: 'Cancel a run: waiting/delayed ones are removed, an active one is aborted (tq control cancel --json)',
        tags: ['actions'],
        params: IdParams,
        response: responses(
          doc({ id: Type.String(), queue: Type.String(), outcome: Type.String(), state: Type.String() }, 'cancel'),
          404,
          409,
          503,
        ),
      },
    },
    async (request) => {
      const { id } = request.params;
      return audited(ctx, request, { action: 'cancel', target: id }, () => cancel(ctx, id));
    },
  );

  for (const paused of [true, false]) {
    const action = paused ? 'pause' : 'resume';
    app.post(
      `/api/queues/:queue/${action}`,
      {
        config: operator(action),
        schema: {
          summary: `${paused ? 'Pause' : 'Resume'} a queue (tq control ${action} <queue> --json)`,
          tags: ['actions'],
          params: QueueParams,
          response: responses(doc({ queues: Type.Array(Type.String()), paused: Type.Boolean() }, action), 404, 503),
        },
      },
      async (request) => {
        const { queue } = request.params;
        return audited(ctx, request, { action, target: queue }, async () => {
          await mustExist(ctx.sources, queue);
          return { queues: await ctx.admin.setPaused(paused, queue), paused };
        });
      },
    );
  }

  app.post(
    '/api/queues/:queue/purge',
    {
      config: admin('purge'),
      schema: {
        summary: 'Remove every run in one state from a queue (tq control purge <queue> --json)',
        tags: ['actions'],
        params: QueueParams,
        body: Type.Object(
          { state: Type.Optional(Type.Union(['waiting', 'delayed', 'failed', 'completed'].map((s) => Type.Literal(s)))) },
          { additionalProperties: false },
        ),
        response: responses(doc({ state: Type.String(), removed: Type.Array(AnyObject), total: Type.Integer() }, 'purge'), 400, 404, 503),
      },
    },
    async (request) => {
      const { queue } = request.params;
      const state = (request.body?.state ?? 'waiting') as PurgeState;
      return audited(ctx, request, { action: 'purge', target: queue, query: `state:${state}` }, async () => {
        await mustExist(ctx.sources, queue);
        const removed = await ctx.admin.purge(state, queue);
        return { state, removed, total: removed.reduce((n, r) => n + r.removed, 0) };
      });
    },
  );

  app.post(
    '/api/workers/:name/shutdown',
    {
      config: admin('shutdown'),
      schema: {
        summary: 'Warm shutdown of one worker (tq control shutdown <worker> --json)',
        tags: ['actions'],
        params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: responses(doc({ workers: Type.Array(Type.String()) }, 'shutdown'), 404, 503),
      },
    },
    async (request) => {
      const { name } = request.params;
      return audited(ctx, request, { action: 'shutdown', target: name }, async () => {
        const targets = await ctx.admin.shutdown(name);
        if (targets.length === 0) {
          const live = (await ctx.admin.workers()).map((w) => w.name);
          throw new RuntimeError('E_NO_WORKER', `no live worker "${name}" (live: ${live.join(', ') || 'none'})`);
        }
        return { workers: targets };
      });
    },
  );
}

type EnqueueBodyType = import('@fastify/type-provider-typebox').Static<typeof EnqueueBody>;

/** `tq enqueue` without files: the same checks, in the same order, and the same document. */
async function enqueue(ctx: WebContext, body: EnqueueBodyType): Promise<Record<string, unknown> & { id: string }> {
  const task = ctx.config.tasks.get(body.task);
  if (!task) throw new RuntimeError('E_NO_TASK', `unknown task "${body.task}" (known: ${[...ctx.config.tasks.keys()].sort().join(', ')})`);
  if (task.definition.fromArgs && (body.args?.length ?? 0) > 0)
    throw new UsageError(`task "${task.name}" takes files, which the API does not upload`, {
      hint: `enqueue files with tq enqueue ${task.name} <file>, or send the payload a run of it takes`,
    });
  const options: EnqueueOptions = {};
  if (body.queue !== undefined) options.queue = body.queue;
  if (body.delay !== undefined) options.delay = parseDuration(body.delay, 'delay');
  if (body.at !== undefined) options.at = body.at;
  if (body.priority !== undefined) options.priority = body.priority;
  if (body.attempts !== undefined) options.attempts = body.attempts;
  if (body.id !== undefined) options.id = body.id;
  if (body.expires !== undefined) options.expires = parseDuration(body.expires, 'expires');
  if (body.timeLimit !== undefined) options.timeLimit = parseDuration(body.timeLimit, 'timeLimit');
  const timeoutMs = Math.min(body.timeout !== undefined ? parseDuration(body.timeout, 'timeout') : MAX_WAIT_MS, MAX_WAIT_MS);
  if (task.definition.fromArgs && body.payload === undefined)
    throw new UsageError(`${task.name} needs at least one file`, { hint: `enqueue files with tq enqueue ${task.name} <file>` });
  const payload = payloadFromArgs(task, body.args ?? [], body.payload === undefined ? undefined : JSON.stringify(body.payload));
  if (!task.definition.fromArgs) checkPlainPayload(task, payload, ctx.config.payloadLimit);

  if (body.wait) await ctx.producer.watch(body.queue ?? task.queue);
  const known = body.id !== undefined ? runKnownToHistory(ctx.store, body.id) : undefined;
  const run = known ?? (await ctx.producer.enqueue(task.name, payload, options));
  await ctx.producer.flush();
  let outcome: RunOutcome | undefined;
  if (body.wait) {
    const row = run.existed ? ctx.store.runs.get(run.id) : undefined;
    if (row?.state === 'completed') outcome = { state: 'completed', result: row.result === null ? null : JSON.parse(row.result) };
    else if (row?.state === 'failed') outcome = { state: 'failed', error: row.error ?? 'failed' };
    else outcome = await ctx.producer.wait(run, timeoutMs);
  }
  return enqueuedRunJson(run, undefined, outcome);
}

/** `tq control cancel <id>`: the same outcomes and refusals. */
async function cancel(ctx: WebContext, id: string) {
  let result;
  try {
    result = await ctx.admin.cancel(id);
  } catch (err) {
    if (!(err instanceof RuntimeError && err.code === 'E_NO_RUN')) throw err;
    const row = ctx.history.get(id);
    if (row && isFinalState(row.state)) throw new RuntimeError('E_FINISHED', `run ${id} is already ${row.state}; nothing to cancel`);
    if (row) throw new RuntimeError('E_NO_RUN', `run ${id} is ${row.state} in history and no queue has it; nothing to cancel`);
    throw new RuntimeError('E_NO_RUN', `no run ${id} in Redis or in this host's history`);
  }
  if (result.outcome === 'finished') throw new RuntimeError('E_FINISHED', `run ${id} is already ${result.state}; nothing to cancel`);
  let state = result.outcome === 'removed' ? 'cancelled' : result.state;
  if (result.outcome === 'requested') state = (await ctx.admin.waitFinished(result.queue, id, 5000)) ?? 'cancelled';
  return { id, queue: result.queue, outcome: result.outcome, state };
}
