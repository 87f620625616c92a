import { describe, expect, it } from 'vitest';
import { stopAfterTest } from '../helpers/cli.js';
import { appProject, eventually } from '../helpers/project.js';

const json = (stdout: string) => JSON.parse(stdout);

describe('tq inspect', () => {
  it('workers: heartbeats list live workers with their facts, --ping gets an answer from each, and a killed worker disappears', async () => {
    const project = appProject();
    const a = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'alpha', '-c', '2']));
    const b = stopAfterTest(project.spawn(['worker', '-Q', 'default,slow', '-n', 'beta']));
    await Promise.all([a.waitFor(/ready/), b.waitFor(/ready/)]);
    const res = await project.run(['inspect', 'workers', '--ping', '--json']);
    expect(res.code).toBe(0);
    const workers = json(res.stdout).workers as Record<string, unknown>[];
    expect(workers.map((w) => w.name)).toEqual(['alpha', 'beta']);
    const alpha = workers[0]!;
    expect(alpha).toMatchObject({
      queues: ['default'],
      concurrency: 2,
      processed: 0,
      failed: 0,
      zombies: 0,
      stuck: false,
      pid: a.child.pid,
    });
    expect(Object.keys(alpha).sort()).toEqual(
      [
        'active',
        'clockOffsetMs',
        'concurrency',
        'failed',
        'heartbeatAgeMs',
        'host',
        'lastFetchAt',
        'name',
        'pid',
        'pingMs',
        'processed',
        'queues',
        'rssBytes',
        'stopping',
        'stuck',
        'uptimeMs',
        'version',
        'zombies',
      ].sort(),
    );
    for (const w of workers) expect(typeof w.pingMs).toBe('number');
    // Same host as Redis: the measured offset is a few ms at most.
    for (const w of workers) expect(Math.abs(w.clockOffsetMs as number)).toBeLessThan(1000);

    a.kill('SIGKILL');
    await eventually(
      async () => {
        const r = await project.run(['inspect', 'workers', '--json']);
        return (json(r.stdout).workers as { name: string }[]).map((w) => w.name).join() === 'beta';
      },
      25_000,
      'alpha to disappear',
    );
    // A clean exit leaves the registry at once.
    expect(await b.stop()).toBe(0);
    const none = await project.run(['inspect', 'workers', '--ping']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no live workers/);
  }, 60_000);

  it('queues and tasks: counts after a known mix, and run details from Redis and from history', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
    await worker.waitFor(/ready/);
    const ok = json((await project.run(['enqueue', 'hello', 'a', '--wait', '--json'])).stdout);
    await project.run(['enqueue', 'hello', 'b', '--wait']);
    const bad = json((await project.run(['enqueue', 'boom', '--wait', '--json'])).stdout);
    const later = json((await project.run(['enqueue', 'hello', 'c', '--delay', '1h', '--json'])).stdout);
    const gone = json((await project.run(['enqueue', 'ephemeral', 'x', '--wait', '--json'])).stdout);

    const q = await project.run(['inspect', 'queues', '--json']);
    expect(q.code).toBe(0);
    const def = (json(q.stdout).queues as Record<string, unknown>[]).find((x) => x.name === 'default');
    expect(def).toEqual({
      name: 'default',
      waiting: 0,
      active: 0,
      delayed: 1,
      completed: 2,
      failed: 1,
      cancelled: 0,
      expired: 0,
      paused: false,
      oldestWaitingMs: undefined,
      consumers: 1,
      flags: [],
    });

    const failedRuns = json((await project.run(['inspect', 'tasks', '--state', 'failed', '--json'])).stdout).runs;
    expect(failedRuns.map((r: { id: string }) => r.id)).toEqual([bad.id]);
    const delayed = json((await project.run(['inspect', 'tasks', '--state', 'delayed', '--json'])).stdout).runs;
    expect(delayed.map((r: { id: string }) => r.id)).toEqual([later.id]);

    const done = json((await project.run(['inspect', 'task', ok.id, '--json'])).stdout);
    expect(done).toMatchObject({
      id: ok.id,
      task: 'hello',
      queue: 'default',
      state: 'completed',
      payload: { name: 'a' },
      result: 'hello a',
      error: null,
      attempt: 1,
      source: 'redis',
    });
    for (const k of [
      'id',
      'task',
      'queue',
      'state',
      'payload',
      'result',
      'error',
      'attempt',
      'progress',
      'logs',
      'worker',
      'enqueuedAt',
      'startedAt',
      'finishedAt',
      'runtimeMs',
    ]) {
      expect(done).toHaveProperty(k);
    }
    const failed = json((await project.run(['inspect', 'task', bad.id, '--json'])).stdout);
    expect(failed).toMatchObject({ state: 'failed', error: 'boom: the task failed on purpose', attempt: 2 });
    expect(failed.stack).toMatch(/boom: the task failed on purpose\n\s+at /);
    expect(failed.errors).toHaveLength(2);

    const fromHistory = json((await project.run(['inspect', 'task', gone.id, '--json'])).stdout);
    expect(fromHistory).toMatchObject({ id: gone.id, state: 'completed', result: 'bye x', source: 'history' });
    const human = await project.run(['inspect', 'task', gone.id]);
    expect(human.stdout).toMatch(/from history; Redis no longer has it/);

    const missing = await project.run(['inspect', 'task', 'nope-123']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no run nope-123/);
  });

  it('history: filters, search, totals and per-task percentiles from SQLite', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
    await worker.waitFor(/ready/);
    for (const n of ['needle-7', 'hay', 'hay']) await project.run(['enqueue', 'hello', n, '--wait']);
    await project.run(['enqueue', 'boom', '--wait']);
    const all = json((await project.run(['inspect', 'history', '--json'])).stdout);
    expect(all.totals).toEqual({ total: 4, byState: { completed: 3, failed: 1 } });
    const hello = all.tasks.find((t: { task: string }) => t.task === 'hello');
    expect(hello).toMatchObject({ count: 3, completed: 3, failed: 0 });
    expect(typeof hello.p50Ms).toBe('number');
    const found = json((await project.run(['inspect', 'history', '--search', 'NEEDLE', '--json'])).stdout);
    expect(found.runs).toHaveLength(1);
    expect(found.runs[0]).toMatchObject({ task: 'hello', state: 'completed' });
    const failed = json((await project.run(['inspect', 'history', '--state', 'failed', '--since', '1h', '--json'])).stdout);
    expect(failed.runs.map((r: { task: string }) => r.task)).toEqual(['boom']);
    const human = await project.run(['inspect', 'history']);
    expect(human.stdout).toMatch(/4 run\(s\) match: 3 completed, 1 failed/);
    expect((await project.run(['inspect', 'history', '--state', 'bogus'])).code).toBe(2);
    // The query language: terms and flags together, totals honouring all of them, bad terms refused.
    const query = json(
      (await project.run(['inspect', 'history', '--task', 'hello', '--search', 'state:completed needle', '--json'])).stdout,
    );
    expect(query.runs.map((r: { task: string }) => r.task)).toEqual(['hello']);
    expect(query.totals).toEqual({ total: 1, byState: { completed: 1 } });
    expect(query.query).toBe('state:completed task:hello needle');
    const paged = json((await project.run(['inspect', 'history', '--limit', '3', '--json'])).stdout);
    const next = json((await project.run(['inspect', 'history', '--limit', '3', '--cursor', paged.nextCursor, '--json'])).stdout);
    expect([...paged.runs, ...next.runs].map((r: { id: string }) => r.id).sort()).toEqual(all.runs.map((r: { id: string }) => r.id).sort());
    const bad = await project.run(['inspect', 'history', '--search', 'stat:failed']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/stat:failed: unknown key "stat"; did you mean "state:"\?/);
    const badJson = json((await project.run(['inspect', 'history', '--search', 'state:faild', '--json'])).stdout);
    expect(badJson.error).toMatchObject({ code: 'E_QUERY', message: expect.stringContaining('did you mean "failed"') });
  });

  it('registered: tasks with options and the workers that serve them', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'images', '-n', 'imgs']));
    await worker.waitFor(/ready/);
    const tasks = json((await project.run(['inspect', 'registered', '--json'])).stdout).tasks as {
      name: string;
      queue: string;
      attempts: number;
      workers: string[];
    }[];
    expect(tasks.find((t) => t.name === 'resize')).toMatchObject({ queue: 'images', attempts: 3, workers: ['imgs'] });
    expect(tasks.find((t) => t.name === 'hello')).toMatchObject({ queue: 'default', workers: [] });
  });
});

describe('tq control', () => {
  it('retry --failed re-runs exactly the failed runs', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
    await worker.waitFor(/ready/);
    const f1 = json((await project.run(['enqueue', 'flipflop', project.file('m1'), '--wait', '--json'])).stdout);
    const f2 = json((await project.run(['enqueue', 'flipflop', project.file('m2'), '--wait', '--json'])).stdout);
    const ok = json((await project.run(['enqueue', 'hello', 'fine', '--wait', '--json'])).stdout);
    expect([f1.state, f2.state, ok.state]).toEqual(['failed', 'failed', 'completed']);
    const res = await project.run(['control', 'retry', '--failed', '--json']);
    expect(res.code).toBe(0);
    expect(json(res.stdout)).toEqual({ count: 2 });
    await eventually(async () => {
      const h = json((await project.run(['inspect', 'history', '--json'])).stdout);
      return h.totals.byState.completed === 3 ? h : undefined;
    }, 15_000);
    const detail = json((await project.run(['inspect', 'task', f1.id, '--json'])).stdout);
    expect(detail).toMatchObject({ state: 'completed', result: 'second time works', attempt: 2 });
    expect(detail.errors.map((e: { error: string }) => e.error)).toEqual(['first time fails']);
    expect(worker.output.match(/hello\[\w+\] succeeded/g)).toHaveLength(1);
    const none = await project.run(['control', 'retry', ok.id]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/only failed runs can be retried/);
  });

  it('pause stops new runs within a second, resume restarts them, and inspect shows it', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
    await worker.waitFor(/ready/);
    expect((await project.run(['control', 'pause', 'default'])).code).toBe(0);
    const q = json((await project.run(['inspect', 'queues', '--json'])).stdout).queues.find((x: { name: string }) => x.name === 'default');
    expect(q).toMatchObject({ paused: true, flags: ['paused'] });
    const held = json((await project.run(['enqueue', 'hello', 'held', '--json'])).stdout);
    await new Promise((r) => setTimeout(r, 1000)); // nothing may happen during this second
    expect(worker.output).not.toMatch(/succeeded/);
    expect(json((await project.run(['inspect', 'task', held.id, '--json'])).stdout).state).toBe('waiting');
    expect((await project.run(['control', 'resume', 'default'])).code).toBe(0);
    await worker.waitFor(/hello\[\w+\] succeeded/, 10_000);
    expect((await project.run(['control', 'pause', 'nosuchqueue'])).code).toBe(1);
  });

  it('purge removes and counts runs, and refuses without --yes off a terminal', async () => {
    const project = appProject();
    for (const n of ['a', 'b', 'c']) await project.run(['enqueue', 'hello', n]);
    const refused = await project.run(['control', 'purge', 'default']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/confirm with --yes/);
    const res = await project.run(['control', 'purge', 'default', '--yes', '--json']);
    expect(json(res.stdout)).toEqual({ state: 'waiting', removed: [{ queue: 'default', removed: 3 }], total: 3 });
    const h = json((await project.run(['inspect', 'history', '--json'])).stdout);
    expect(h.totals).toEqual({ total: 3, byState: { cancelled: 3 } });
    const empty = await project.run(['inspect', 'queues']);
    expect(empty.code).toBe(0);
  });

  it('shutdown of one named worker leaves the other running', async () => {
    const project = appProject();
    const a = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'one']));
    const b = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'two']));
    await Promise.all([a.waitFor(/ready/), b.waitFor(/ready/)]);
    const res = await project.run(['control', 'shutdown', 'one']);
    expect(res.code).toBe(0);
    expect(await a.exited).toBe(0);
    expect(a.output).toMatch(/shutdown requested through the control channel/);
    expect(b.child.exitCode).toBeNull();
    const live = json((await project.run(['inspect', 'workers', '--json'])).stdout).workers.map((w: { name: string }) => w.name);
    expect(live).toEqual(['two']);
    expect((await project.run(['control', 'shutdown', 'nobody'])).code).toBe(1);
  });
});
