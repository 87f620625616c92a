/**
 * Bulk actions by history query: retry and cancel (operator), delete (admin). A dry run answers
 * how many runs match and a sample; the real run works through the matches in chunks of at most
 * `BULK_CHUNK` runs (never one Redis script over all of them), reports progress as `bulk` events
 * on `/api/events`, and answers the totals.
 */
import { Type } from '@fastify/type-provider-typebox';
import { errorMessage, RuntimeError } from '../core/errors.js';
import { removeRun } from '../queue/index.js';
import { historyJson } from '../runtime/views.js';
import { audited, type WebApp } from './audited.js';
import type { WebContext } from './context.js';
import { countRuns, eachRunId } from './runs-query.js';
import { AnyObject, doc, responses } from './schemas.js';

/** Runs handled per chunk: each run is its own small Redis round trips, a chunk runs them together. */
export const BULK_CHUNK = 500;
const SAMPLE = 10;

type Outcome = 'done' | 'skipped';

const ACTIONS = {
  retry: { role: 'operator' as const, verb: 'retried' },
  cancel: { role: 'operator' as const, verb: 'cancelled' },
  delete: { role: 'admin' as const, verb: 'deleted' },
};

export function registerBulkRoutes(app: WebApp, ctx: WebContext): void {
  for (const [name, spec] of Object.entries(ACTIONS) as [keyof typeof ACTIONS, (typeof ACTIONS)[keyof typeof ACTIONS]][]) {
    app.post(
      `/api/runs/bulk/${name}`,
      {
        config: { role: spec.role, action: `bulk-${name}` },
        schema: {
          summary: `${name[0]!.toUpperCase()}${name.slice(1)} every run matching a history query (dryRun first: count and sample)`,
          description:
            name === 'delete'
              ? 'Removes the runs from Redis (active ones are skipped: cancel them); their history rows stay.'
              : name === 'retry'
                ? 'Retries failed runs; runs in any other state are skipped.'
                : 'Cancels waiting, delayed and active runs; finished ones are skipped.',
          tags: ['bulk'],
          body: Type.Object(
            {
              q: Type.String({ minLength: 1, maxLength: 2000, description: 'history query, as GET /api/runs takes it' }),
              dryRun: Type.Optional(Type.Boolean({ default: false })),
            },
            { additionalProperties: false },
          ),
          response: responses(
            doc({ action: Type.String(), q: Type.String(), matched: Type.Integer(), sample: Type.Optional(Type.Array(AnyObject)) }, 'bulk'),
            400,
            422,
            503,
          ),
        },
      },
      async (request) => {
        const { q, dryRun } = request.body;
        if (dryRun) {
          const { count, sample } = countRuns(ctx.store, q, SAMPLE);
          return { action: name, q, dryRun: true, matched: count, sample: sample.map(historyJson) };
        }
        return audited(
          ctx,
          request,
          { action: `bulk-${name}`, query: q },
          () => bulk(ctx, name, q),
          (r) => ({ matched: r.matched, [spec.verb]: r.done, skipped: r.skipped, chunks: r.chunks }),
        );
      },
    );
  }
}

async function bulk(ctx: WebContext, action: keyof typeof ACTIONS, q: string) {
  const total = countRuns(ctx.store, q, 0).count;
  const report = { action, q, dryRun: false, matched: 0, done: 0, skipped: 0, chunks: 0, errors: [] as { id: string; error: string }[] };
  for (const ids of eachRunId(ctx.store, q, BULK_CHUNK)) {
    const outcomes = await Promise.all(ids.map((id) => one(ctx, action, id, report.errors)));
    report.matched += ids.length;
    report.chunks += 1;
    for (const o of outcomes) report[o] += 1;
    ctx.hub.publish({ event: 'bulk', data: { action, q, done: report.matched, total, [ACTIONS[action].verb]: report.done } });
  }
  return { ...report, errors: report.errors.slice(0, 20) };
}

/** One run of a bulk action: done, or skipped (not in a state the action applies to, or gone). */
async function one(ctx: WebContext, action: keyof typeof ACTIONS, id: string, errors: { id: string; error: string }[]): Promise<Outcome> {
  try {
    if (action === 'retry') {
      await ctx.admin.retry(id);
      return 'done';
    }
    if (action === 'cancel') {
      const r = await ctx.admin.cancel(id, 'cancelled by a bulk action');
      return r.outcome === 'finished' ? 'skipped' : 'done';
    }
    return (await removeRun(ctx.admin, id)) === 'removed' ? 'done' : 'skipped';
  } catch (err) {
    // Expected refusals (not failed, gone from Redis) are skips; anything else is kept to report.
    if (err instanceof RuntimeError && ['E_NO_RUN', 'E_NOT_FAILED'].includes(err.code)) return 'skipped';
    errors.push({ id, error: errorMessage(err) });
    return 'skipped';
  }
}
