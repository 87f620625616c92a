/** Read routes: what `tq inspect --json` prints, the runs list over history, and the audit trail. */
import { Type } from '@fastify/type-provider-typebox';
import { redact } from '../core/json.js';
import {
  overviewJson,
  queuesDocument,
  readOverview,
  registeredDocument,
  runDocument,
  schedulesOf,
  workersDocument,
} from '../runtime/inspect-reads.js';
import { auditJson, historyJson } from '../runtime/views.js';
import type { WebApp } from './audited.js';
import type { WebContext } from './context.js';
import { findRuns, RUN_SORTS } from './runs-query.js';
import { AnyObject, doc, IdParams, QueueParams, responses } from './schemas.js';

const viewer = { role: 'viewer' as const };

export function registerReadRoutes(app: WebApp, ctx: WebContext): void {
  app.get(
    '/api/overview',
    {
      config: viewer,
      schema: {
        summary: 'Queues, workers, schedules, recent failures and throughput (tq inspect --json)',
        tags: ['read'],
        response: responses(
          doc(
            {
              queues: Type.Array(AnyObject),
              workers: Type.Array(AnyObject),
              schedules: Type.Array(AnyObject),
              recentFailures: Type.Array(AnyObject),
              throughput: Type.Array(AnyObject),
            },
            'overview',
          ),
          503,
        ),
      },
    },
    async () => overviewJson(await readOverview(ctx.sources)),
  );

  app.get(
    '/api/queues',
    {
      config: viewer,
      schema: {
        summary: 'Every queue: counts by state, paused, oldest waiting, consumers (tq inspect queues --json)',
        tags: ['read'],
        response: responses(doc({ queues: Type.Array(AnyObject) }, 'queues'), 503),
      },
    },
    async () => queuesDocument(ctx.sources),
  );

  app.get(
    '/api/queues/:queue',
    {
      config: viewer,
      schema: {
        summary: 'One queue (tq inspect queues <queue> --json)',
        tags: ['read'],
        params: QueueParams,
        response: responses(doc({ queues: Type.Array(AnyObject) }, 'queues'), 404, 503),
      },
    },
    async (request) => queuesDocument(ctx.sources, request.params.queue),
  );

  app.get(
    '/api/workers',
    {
      config: viewer,
      schema: {
        summary: 'Live workers from their heartbeats (tq inspect workers --json)',
        tags: ['read'],
        response: responses(doc({ workers: Type.Array(AnyObject) }, 'workers'), 503),
      },
    },
    async () => workersDocument(ctx.sources),
  );

  app.get(
    '/api/tasks',
    {
      config: viewer,
      schema: {
        summary: 'Registered tasks with their options and the workers serving them (tq inspect registered --json)',
        tags: ['read'],
        response: responses(doc({ tasks: Type.Array(AnyObject) }, 'tasks'), 503),
      },
    },
    async () => registeredDocument(ctx.config, ctx.admin),
  );

  app.get(
    '/api/schedules',
    {
      config: viewer,
      schema: {
        summary: 'Schedules with their last and next fire (tq inspect schedule --json)',
        tags: ['read'],
        response: responses(doc({ schedules: Type.Array(AnyObject) }, 'schedules'), 503),
      },
    },
    async () => ({ schedules: await schedulesOf(ctx.sources) }),
  );

  app.get(
    '/api/runs',
    {
      config: viewer,
      schema: {
        summary: 'Runs from the durable history, filtered by a query, newest first, with cursor paging',
        description:
          'q: the history query language, e.g. `state:failed task:resize queue:images worker:host1 id:abc error:"premature end" since:1h until:2026-12-01 payload.user:42` plus free text. ' +
          'sort: enqueued (default), finished or runtime (only runs that have one). Pass nextCursor back as cursor for the next page.',
        tags: ['read'],
        querystring: Type.Object({
          q: Type.Optional(Type.String({ maxLength: 2000 })),
          cursor: Type.Optional(Type.String({ maxLength: 2000 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
          sort: Type.Optional(Type.Union(RUN_SORTS.map((s) => Type.Literal(s)))),
          order: Type.Optional(Type.Union([Type.Literal('desc'), Type.Literal('asc')])),
        }),
        response: responses(
          doc({ runs: Type.Array(AnyObject), nextCursor: Type.Union([Type.String(), Type.Null()]) }, 'a page of runs'),
          422,
        ),
      },
    },
    async (request) => {
      const { q, cursor, limit, sort, order } = request.query;
      const page = findRuns(ctx.store, q, {
        sort: sort ?? 'enqueued',
        order: order ?? 'desc',
        limit: limit ?? 50,
        ...(cursor ? { cursor } : {}),
      });
      return { runs: page.rows.map(historyJson), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/runs/:id',
    {
      config: viewer,
      schema: {
        summary: "Everything about one run: payload, result, every attempt's error, logs (tq inspect task <id> --json)",
        tags: ['read'],
        params: IdParams,
        response: responses(doc({ id: Type.String(), state: Type.String(), errors: Type.Array(Type.Unknown()) }, 'one run'), 404, 503),
      },
    },
    async (request) => {
      const run = await runDocument(ctx.sources, request.params.id);
      // Over HTTP a payload is shown as history stores it: `history.redact` keys masked.
      return ctx.config.history.redact.length > 0 ? { ...run, payload: redact(run.payload, ctx.config.history.redact) } : run;
    },
  );

  app.get(
    '/api/audit',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Actions taken through this API, newest first (tq inspect audit --json)',
        tags: ['read'],
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
          before: Type.Optional(Type.Integer({ minimum: 1 })),
          action: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: responses(doc({ entries: Type.Array(AnyObject) }, 'audit entries')),
      },
    },
    async (request) => {
      const { limit, before, action } = request.query;
      return {
        entries: auditJson(
          ctx.audit.list({ limit: limit ?? 50, ...(before !== undefined ? { before } : {}), ...(action ? { action } : {}) }),
        ),
      };
    },
  );
}
