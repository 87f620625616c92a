/**
 * `GET /api/events`: Server-Sent Events of run transitions (`runs`, id = the stream id),
 * queue and worker changes (`queues`, `workers`), bulk progress (`bulk`), and `gap` when a
 * resume reaches back past the stream's retention. `Last-Event-ID` (header, or `lastEventId`
 * in the query for clients that cannot set headers) resumes after that id.
 */
import { Type } from '@fastify/type-provider-typebox';
import type { WebApp } from './audited.js';
import type { WebContext } from './context.js';
import type { HubMessage } from './event-hub.js';
import { responses } from './schemas.js';

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
/** What one slow client may have waiting unsent. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export function registerEventRoutes(app: WebApp, ctx: WebContext): void {
  app.get(
    '/api/events',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Live run transitions, queue and worker changes (Server-Sent Events; Last-Event-ID resumes)',
        tags: ['read'],
        querystring: Type.Object({ lastEventId: Type.Optional(Type.String({ pattern: STREAM_ID.source })) }),
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: STREAM_ID.source })) }),
        produces: ['text/event-stream'],
        response: responses(Type.String({ description: 'text/event-stream' })),
      },
    },
    async (request, reply) => {
      const after = request.headers['last-event-id'] ?? request.query.lastEventId;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 2000\n: tq events from ${ctx.hub.position}\n\n`);
      let closed = false;
      const send = (m: HubMessage) => {
        if (closed) return;
        // A client that stops reading must not make the server hold every event for it: past
        // the limit it is disconnected, and its browser reconnects with Last-Event-ID, missing nothing.
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          closed = true;
          res.destroy();
          return;
        }
        res.write(`${m.id ? `id: ${m.id}\n` : ''}event: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`);
      };
      let unsubscribe: (() => void) | undefined;
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      res.on('close', () => {
        closed = true;
        clearInterval(ping);
        unsubscribe?.();
      });
      try {
        unsubscribe = await ctx.hub.subscribe(send, after);
        if (closed) unsubscribe();
      } catch (err) {
        send({ event: 'gap', data: { message: `could not resume: ${String(err)}` } });
        res.end();
      }
    },
  );
}
