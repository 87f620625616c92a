import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Redis } from 'ioredis';
import { makeProject, stopAfterTest, type TqProcess } from '../helpers/cli.js';
import { appProject, eventually } from '../helpers/project.js';
import type { TestProject } from '../helpers/cli.js';

const SECRETS = {
  viewer: 'viewer-secret-0123456789abcdef',
  operator: 'operator-secret-0123456789abcd',
  admin: 'admin-secret-0123456789abcdef0',
};
const TOKENS = `grafana:viewer:${SECRETS.viewer},ci:operator:${SECRETS.operator},ops:admin:${SECRETS.admin}`;
type Role = keyof typeof SECRETS;
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

async function startWeb(project: TestProject, args: string[] = [], env: Record<string, string> = { TQ_WEB_TOKENS: TOKENS }) {
  const web = stopAfterTest(project.spawn(['web', '--port', '0', ...args], { env }));
  await web.waitFor(/listening on (http:\/\/\S+)/);
  const url = /listening on (http:\/\/\S+)/.exec(web.output)![1]!;
  return { web, url };
}

const auth = (role?: Role): Record<string, string> => (role ? { authorization: `Bearer ${SECRETS[role]}` } : {});

async function call(url: string, method: string, path: string, role?: Role, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { ...auth(role), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) } as Record<string, string>,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** The least role each action route needs (GET routes: viewer). */
function neededRole(method: string, path: string): Role {
  if (method === 'get') return 'viewer';
  if (/purge|shutdown|bulk\/delete/.test(path)) return 'admin';
  return 'operator';
}

const BODIES: Record<string, unknown> = {
  '/api/enqueue': { task: 'hello', args: ['x'] },
  '/api/queues/{queue}/purge': { state: 'failed' },
  '/api/runs/bulk/retry': { q: 'state:failed', dryRun: true },
  '/api/runs/bulk/cancel': { q: 'state:failed', dryRun: true },
  '/api/runs/bulk/delete': { q: 'state:failed', dryRun: true },
};

describe('tq web', () => {
  it('serves a valid OpenAPI 3.1 document; every route in it answers, 403 below its role, and audits actions without secrets', async () => {
    const project = appProject();
    const { web, url } = await startWeb(project);
    const doc = (await call(url, 'GET', '/api/openapi.json')).json;
    const validation = await new Validator().validate(doc);
    expect(validation.errors ?? []).toEqual([]);
    expect(validation.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');

    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ path, method })),
    );
    expect(routes.length).toBeGreaterThanOrEqual(20);
    for (const { path, method } of routes) {
      if (path === '/api/events') continue; // a stream: checked below
      const concrete = path.replace('{id}', 'no-such-run').replace('{queue}', 'default').replace('{name}', 'nobody');
      const needed = neededRole(method, path);
      // Without a token: 401 everywhere.
      expect((await call(url, method.toUpperCase(), concrete, undefined, BODIES[path])).status, `${method} ${path}`).toBe(401);
      for (const role of ['viewer', 'operator', 'admin'] as Role[]) {
        const r = await call(url, method.toUpperCase(), concrete, role, BODIES[path]);
        const where = `${method} ${path} as ${role}: ${r.text.slice(0, 200)}`;
        if (RANK[role] < RANK[needed]) {
          expect(r.status, where).toBe(403);
          expect(r.json.error.code).toBe('E_FORBIDDEN');
          expect(r.json.error.message).toContain(`needs role ${needed}`);
        } else {
          expect(r.status, where).toBeLessThan(500);
          expect(r.status, where).not.toBe(403);
          expect(r.json?.error?.code, where).not.toBe('E_NOT_FOUND');
        }
      }
    }
    // The stream answers too.
    const controller = new AbortController();
    const sse = await fetch(`${url}/api/events`, { headers: auth('viewer'), signal: controller.signal });
    expect(sse.status).toBe(200);
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    controller.abort();

    const audit = (await call(url, 'GET', '/api/audit?limit=1000', 'viewer')).json.entries as any[];
    expect(audit.some((e) => e.who === 'ci' && e.role === 'operator' && e.action === 'enqueue' && e.result === 'ok')).toBe(true);
    expect(audit.some((e) => e.who === 'grafana' && e.action === 'purge' && e.result === 'E_FORBIDDEN')).toBe(true);
    const cli = await project.run(['inspect', 'audit', '--json', '--limit', '1000']);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).entries).toEqual(audit);
    for (const secret of Object.values(SECRETS)) {
      expect(web.output).not.toContain(secret);
      expect(JSON.stringify(audit)).not.toContain(secret);
    }
  });

  it('binds loopback only without tokens, is read-only there unless --allow-actions, and --read-only refuses every action', async () => {
    const project = appProject();
    const exposed = await project.run(['web', '--host', '0.0.0.0', '--port', '0'], { env: { TQ_WEB_TOKENS: '' } });
    expect(exposed.code).toBe(2);
    expect(exposed.stderr.trim().split('\n')).toHaveLength(1);
    expect(exposed.stderr).toMatch(/refuses to listen on 0\.0\.0\.0 without tokens/);

    const badRole = await project.run(['web', '--port', '0'], { env: { TQ_WEB_TOKENS: 'x:superuser:a-secret-that-must-not-show' } });
    expect(badRole.code).toBe(2);
    expect(badRole.stderr + badRole.stdout).not.toContain('a-secret-that-must-not-show');

    // A port another process holds: one line, exit 1.
    const holder = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    const held = await project.run(['web', '--port', String((holder.address() as net.AddressInfo).port)], { env: { TQ_WEB_TOKENS: '' } });
    holder.close();
    expect(held.code).toBe(1);
    expect(held.stderr.trim().split('\n')).toHaveLength(1);
    expect(held.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+.*pick another with --port/);

    const anon = await startWeb(project, [], { TQ_WEB_TOKENS: '' });
    expect((await call(anon.url, 'GET', '/api/queues')).status).toBe(200);
    const refused = await call(anon.url, 'POST', '/api/enqueue', undefined, { task: 'hello', args: ['x'] });
    expect(refused.status).toBe(403);
    expect(refused.json.error.hint).toMatch(/--allow-actions/);
    await anon.web.stop();

    const acting = await startWeb(project, ['--allow-actions'], { TQ_WEB_TOKENS: '' });
    expect((await call(acting.url, 'POST', '/api/enqueue', undefined, { task: 'hello', args: ['x'] })).status).toBe(200);
    await acting.web.stop();

    const readOnly = await startWeb(project, ['--read-only']);
    const r = await call(readOnly.url, 'POST', '/api/queues/default/purge', 'admin', { state: 'failed' });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('E_READ_ONLY');
    expect((await call(readOnly.url, 'GET', '/api/queues', 'viewer')).status).toBe(200);
  });

  it('enqueue through the API runs on a real worker and answers what tq enqueue --json prints', async () => {
    const project = appProject();
    const { url } = await startWeb(project);
    stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'api-worker'])) as TqProcess;
    const api = await call(url, 'POST', '/api/enqueue', 'operator', { task: 'hello', args: ['web'], wait: true, timeout: '20s' });
    expect(api.status).toBe(200);
    const cli = await project.run(['enqueue', 'hello', 'web', '--wait', '--timeout', '20s', '--json']);
    expect(cli.code).toBe(0);
    const fromCli = JSON.parse(cli.stdout);
    expect({ ...api.json, id: 'X' }).toEqual({ ...fromCli, id: 'X' });
    expect(api.json).toMatchObject({ task: 'hello', queue: 'default', state: 'completed', result: 'hello web' });
    // The one run, as the API and tq inspect task show it, is the same document.
    const detail = await eventually(async () => {
      const r = await call(url, 'GET', `/api/runs/${api.json.id}`, 'viewer');
      return r.json?.finishedAt ? r.json : undefined;
    });
    const inspect = JSON.parse((await project.run(['inspect', 'task', api.json.id, '--json'])).stdout);
    expect(detail).toEqual(inspect);
    // Actions the run's state does not allow: 409 with the CLI's codes.
    const retried = await call(url, 'POST', `/api/runs/${api.json.id}/retry`, 'operator');
    expect(retried.status).toBe(409);
    expect(retried.json.error.code).toBe('E_NOT_FAILED');
    const cancelled = await call(url, 'POST', `/api/runs/${api.json.id}/cancel`, 'operator');
    expect(cancelled.status).toBe(409);
    expect(cancelled.json.error.code).toBe('E_FINISHED');
    // Cursor paging over history: every run once, newest first.
    for (let i = 0; i < 5; i++) await call(url, 'POST', '/api/enqueue', 'operator', { task: 'hello', args: [`p${i}`] });
    const all = await eventually(async () => {
      const r = await call(url, 'GET', '/api/runs?limit=1000', 'viewer');
      return r.json.runs.length >= 7 ? (r.json.runs as { id: string }[]).map((x) => x.id) : undefined;
    });
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await call(url, 'GET', `/api/runs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, 'viewer'))
        .json;
      expect(page.runs.length).toBeLessThanOrEqual(2);
      paged.push(...page.runs.map((x: { id: string }) => x.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all);
    const byRuntime = (await call(url, 'GET', '/api/runs?sort=runtime&q=state:completed', 'viewer')).json.runs as { runtimeMs: number }[];
    expect(byRuntime.length).toBeGreaterThanOrEqual(2);
    expect(byRuntime.map((r) => r.runtimeMs)).toEqual([...byRuntime.map((r) => r.runtimeMs)].sort((a, b) => b - a));
    expect((await call(url, 'GET', '/api/runs?q=stat:failed', 'viewer')).status).toBe(422);
    const badSort = await call(url, 'GET', '/api/runs?sort=bogus', 'viewer');
    expect(badSort.status).toBe(400);
    expect(badSort.json.error.message).toBe('querystring/sort must be one of: enqueued, finished, runtime');
    // An unknown run is 404, and the message shows viewers no path of the server's files.
    const unknown = await call(url, 'GET', '/api/runs/no-such-run', 'viewer');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.message).toBe('no run no-such-run in Redis or in the history');
    // Validation as tq enqueue: a missing argument is 422, an unknown task 404.
    const missing = await call(url, 'POST', '/api/enqueue', 'operator', { task: 'hello' });
    expect(missing.status).toBe(422);
    expect(missing.json.error.message).toMatch(/hello needs <name>/);
    expect((await call(url, 'POST', '/api/enqueue', 'operator', { task: 'nosuch' })).status).toBe(404);
    expect((await call(url, 'POST', '/api/enqueue', 'operator', { task: 'hello', bogus: 1 })).status).toBe(400);
  });

  it('streams run events to two clients from one reader, and a reconnect with Last-Event-ID misses nothing', async () => {
    const project = appProject();
    const { url } = await startWeb(project);
    const a = openStream(url);
    const b = openStream(url);
    await Promise.all([a.ready, b.ready]);
    const enqueue = async (n: number) => {
      for (let i = 0; i < n; i++)
        expect((await call(url, 'POST', '/api/enqueue', 'operator', { task: 'hello', args: [`r${i}`] })).status).toBe(200);
    };
    await enqueue(3);
    await eventually(() => a.ids().length >= 3 && b.ids().length >= 3);
    expect(a.runs()).toEqual(b.runs());
    const resumeFrom = a.ids()[0]!;
    a.close();
    await enqueue(3);
    await eventually(() => b.ids().length >= 6);
    const c = openStream(url, resumeFrom);
    await eventually(() => c.ids().length >= b.ids().length - 1);
    expect(c.ids()).toEqual(b.ids().slice(1));
    // One reader of the stream for the whole server, however many clients.
    const redis = new Redis(project.redisUrl);
    try {
      const list = await redis.client('LIST');
      expect(
        String(list)
          .split('\n')
          .filter((l) => / name=tq-web-events /.test(l)),
      ).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
    // Queue changes reach the clients too: pausing a queue is a `queues` event saying so.
    expect((await call(url, 'POST', '/api/queues/default/pause', 'operator')).json).toEqual({ queues: ['default'], paused: true });
    await eventually(() => b.others('queues').some((d: any) => d.queues.some((q: any) => q.name === 'default' && q.paused)), 10_000);
    expect(b.others('workers').length).toBeGreaterThan(0);
    b.close();
    c.close();
  });
});

/** A tiny SSE client over fetch: the `runs` events it got, with their ids. */
function openStream(url: string, lastEventId?: string) {
  const controller = new AbortController();
  const events: { id: string; data: any[] }[] = [];
  const others: { event: string; data: any }[] = [];
  let resolveReady = () => undefined as void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  void (async () => {
    const res = await fetch(`${url}/api/events`, {
      headers: { ...auth('viewer'), ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } as Record<string, string>,
      signal: controller.signal,
    });
    resolveReady();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) =>
            block
              .split('\n')
              .find((l) => l.startsWith(`${name}: `))
              ?.slice(name.length + 2);
          if (field('event') === 'runs') events.push({ id: field('id')!, data: JSON.parse(field('data')!) });
          else if (field('event')) others.push({ event: field('event')!, data: JSON.parse(field('data')!) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    ready,
    ids: () => events.map((e) => e.id),
    runs: () => events.map((e) => [e.id, e.data.map((d: any) => `${d.type}:${d.jobId}`)]),
    payloads: () => events.flatMap((e) => e.data.map((d: any) => d.payload)),
    others: (event: string) => others.filter((o) => o.event === event).map((o) => o.data),
    close: () => controller.abort(),
  };
}

describe('tq dev --web', () => {
  it('serves the API beside the dev worker, with actions allowed on loopback', async () => {
    const project = appProject();
    const dev = stopAfterTest(project.spawn(['dev', '--web', '--web-port', '0'], { env: { TQ_WEB_TOKENS: '' } }));
    await dev.waitFor(/tq dev web: (http:\/\/\S+)/);
    const url = /tq dev web: (http:\/\/\S+)/.exec(dev.output)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await call(url, 'POST', '/api/enqueue', undefined, { task: 'hello', args: ['dev'], wait: true, timeout: '20s' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ task: 'hello', state: 'completed', result: 'hello dev' });
  });
});

describe('tq web and history.redact', () => {
  it('shows payloads over HTTP as history stores them: redacted keys masked in run details and live events', async () => {
    const project = makeProject(`
import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  history: { redact: ['password'] },
  tasks: { login: defineTask({ run: async () => 'ok' }) },
});
`);
    const { url } = await startWeb(project);
    const stream = openStream(url);
    await stream.ready;
    const r = await call(url, 'POST', '/api/enqueue', 'operator', { task: 'login', payload: { user: 'ann', password: 'hunter2-hunter2' } });
    expect(r.status).toBe(200);
    await eventually(() => stream.ids().length >= 1);
    const live = JSON.stringify(stream.runs()) + JSON.stringify(stream.payloads());
    expect(live).toContain('ann');
    expect(live).not.toContain('hunter2-hunter2');
    const detail = await call(url, 'GET', `/api/runs/${r.json.id}`, 'viewer');
    expect(detail.status).toBe(200);
    expect(detail.json.payload.user).toBe('ann');
    expect(detail.text).not.toContain('hunter2-hunter2');
    stream.close();
  });
});
