import { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { AppControllerRoute, BullBoardQueues, IServerAdapter } from '@bull-board/api/typings/app';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, defineConfig, defineTask } from '../../src/index.js';
import { makeProject, type TestProject, type TqProcess } from '../helpers/cli.js';
import { eventually, query } from '../helpers/project.js';

/**
 * tq's queues as bull-board (the real package) shows and moves them: its listing of tq's runs,
 * and a retry, removal and promotion through its API reaching tq's history; a plain BullMQ
 * producer's run on a tq worker, found by `tq inspect history`.
 */
const SOURCE = `import { defineConfig, defineTask } from 'tq';
let flakyCalls = 0;
export default defineConfig({
  tasks: {
    greet: defineTask({
      run: async (p: { name: string }, ctx) => {
        await ctx.progress(50);
        return 'hello ' + p.name;
      },
    }),
    brief: defineTask({ run: async (p: { n: number }) => p.n * 2 }),
    flaky: defineTask({
      attempts: 1,
      run: async () => {
        flakyCalls += 1;
        if (flakyCalls === 1) throw new Error('flaky the first time');
        return 'steady now';
      },
    }),
  },
});
`;
// The enqueuing side needs only the task names and queues.
const config = defineConfig({
  tasks: { greet: defineTask({ run: async () => undefined }), flaky: defineTask({ attempts: 1, run: async () => undefined }) },
});

/** A server adapter with no HTTP server: routes are called the way an HTTP adapter would call them. */
class InTestServer implements IServerAdapter {
  private routes: AppControllerRoute[] = [];
  private queues: BullBoardQueues = new Map();
  setQueues(queues: BullBoardQueues) {
    this.queues = queues;
    return this;
  }
  setViewsPath() {
    return this;
  }
  setStaticPath() {
    return this;
  }
  setEntryRoute() {
    return this;
  }
  setErrorHandler() {
    return this;
  }
  setApiRoutes(routes: AppControllerRoute[]) {
    this.routes = routes;
    return this;
  }
  setUIConfig() {
    return this;
  }
  async call(method: string, url: string, queryParams: Record<string, unknown> = {}): Promise<{ status?: number; body: any }> {
    for (const route of this.routes) {
      const methods = ([] as string[]).concat(route.method);
      if (!methods.includes(method)) continue;
      for (const pattern of ([] as string[]).concat(route.route)) {
        const names: string[] = [];
        const re = new RegExp(`^${pattern.replace(/:(\w+)/g, (_m, n: string) => (names.push(n), '([^/]+)'))}$`);
        const m = re.exec(url);
        if (!m) continue;
        const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
        return route.handler({ queues: this.queues, uiConfig: {}, query: queryParams, params, body: {}, headers: {} });
      }
    }
    throw new Error(`no bull-board route for ${method} ${url}`);
  }
}

describe('bull-board and tq on the same queues', () => {
  let project: TestProject;
  let worker: TqProcess;
  let board: InTestServer;
  const queues: Queue[] = [];
  let tq: ReturnType<typeof createClient>;

  beforeAll(async () => {
    project = makeProject(SOURCE);
    worker = project.spawn(['worker', '-n', 'board-w']);
    await worker.waitFor(/ready/);
    tq = createClient(config, { redis: project.redisUrl, prefix: project.prefix, dir: project.dir });
    const queue = new Queue('default', { connection: { url: project.redisUrl }, prefix: project.prefix });
    queues.push(queue);
    board = new InTestServer();
    createBullBoard({ queues: [new BullMQAdapter(queue)], serverAdapter: board });
  });
  afterAll(async () => {
    await tq.close();
    for (const q of queues) await q.close();
    await worker.stop();
  });

  const row = (id: string) => query<Record<string, any>>(project.dbFile, 'SELECT * FROM task_runs WHERE job_id = ?', id)[0];
  const listed = async (status: string) => {
    const res = await board.call('get', '/api/queues', { activeQueue: 'default', status, page: '1', jobsPerPage: '50' });
    if (!res.body.queues) throw new Error(`bull-board answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.queues.find((q: { name: string }) => q.name === 'default');
  };

  it("lists tq's runs with their names, data, results, failure reasons and final progress", async () => {
    const ok = await tq.enqueue('greet', { name: 'board' });
    expect(await ok.wait({ timeout: '15s' })).toBe('hello board');
    const bad = await tq.enqueue('flaky', {});
    await expect(bad.wait({ timeout: '15s' })).rejects.toThrow('flaky the first time');

    const done = (await listed('completed')).jobs.find((j: { id: string }) => j.id === ok.id);
    expect(done).toMatchObject({ name: 'greet', data: { name: 'board' }, returnValue: 'hello board', progress: 50 });
    const failed = (await listed('failed')).jobs.find((j: { id: string }) => j.id === bad.id);
    expect(failed).toMatchObject({ name: 'flaky', failedReason: 'flaky the first time', isFailed: true });

    // Retried in bull-board: tq's worker runs it again, and history reopens the row.
    expect((await board.call('put', `/api/queues/default/${bad.id}/retry`)).status).toBe(204);
    const after = await eventually(() => (row(bad.id)?.state === 'completed' ? row(bad.id) : undefined));
    expect(after).toMatchObject({ attempt: 2, result: '"steady now"', error: null, worker: 'board-w' });
    expect(JSON.parse(after.errors)).toMatchObject([{ attempt: 1, error: 'flaky the first time' }]);
  });

  it('a delayed run removed in bull-board ends cancelled in history; a promoted one runs', async () => {
    const removed = await tq.enqueue('greet', { name: 'never' }, { delay: '1h' });
    const promoted = await tq.enqueue('greet', { name: 'early' }, { delay: '1h' });
    await eventually(() => row(removed.id)?.state === 'delayed' && row(promoted.id)?.state === 'delayed');
    expect((await board.call('put', `/api/queues/default/${removed.id}/clean`)).status).toBe(204);
    expect((await board.call('put', `/api/queues/default/${promoted.id}/promote`)).status).toBe(204);
    expect(await promoted.wait({ timeout: '15s' })).toBe('hello early');
    const gone = await eventually(() => (row(removed.id)?.state === 'cancelled' ? row(removed.id) : undefined));
    expect(gone.error).toMatch(/removed from Redis by another client while delayed/);
    await eventually(() => row(promoted.id)?.state === 'completed');
  });

  it("a plain BullMQ producer's run is recorded with payload and enqueue time and found by tq inspect history", async () => {
    const plain = await queues[0]!.add('greet', { name: 'plain-producer-7f3' });
    // tq's worker reports the start and end; BullMQ's stream the enqueue with its payload.
    const rec = await eventually(() => (row(plain.id!)?.state === 'completed' && row(plain.id!)?.payload ? row(plain.id!) : undefined));
    expect(JSON.parse(rec.payload)).toEqual({ name: 'plain-producer-7f3' });
    expect(rec.enqueued_at).toMatch(/^\d{4}-/);
    const found = await project.run(['inspect', 'history', '--search', 'plain-producer-7f3', '--json']);
    expect(found.code).toBe(0);
    const runs = JSON.parse(found.stdout).runs as { id: string; state: string }[];
    expect(runs.map((r) => [r.id, r.state])).toEqual([[plain.id, 'completed']]);
  });

  it("a plain producer's run a tq worker finishes and Redis drops at once still has its payload", async () => {
    const plain = await queues[0]!.add('brief', { n: 21 }, { removeOnComplete: true });
    const rec = await eventually(() => (row(plain.id!)?.state === 'completed' && row(plain.id!)?.payload ? row(plain.id!) : undefined));
    expect(rec).toMatchObject({ payload: '{"n":21}', result: '42', worker: 'board-w' });
    expect(await queues[0]!.getJob(plain.id!)).toBeUndefined();
  });

  it('a queue only plain BullMQ producers feed is listed by tq inspect queues', async () => {
    const orphan = new Queue('orphan', { connection: { url: project.redisUrl }, prefix: project.prefix });
    queues.push(orphan);
    await orphan.add('report', { n: 1 });
    const listed = await project.run(['inspect', 'queues', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const names = (JSON.parse(listed.stdout).queues as { name: string; waiting: number }[]).map((q) => q.name);
    expect(names).toContain('orphan');
    expect(names).not.toContain('_tq');
  });
});
