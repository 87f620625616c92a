import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { makeProject, ROOT, stopAfterTest, type RunResult, type TestProject } from '../helpers/cli.js';
import { bullQueue, eventually } from '../helpers/project.js';

/** A project on the config whose tasks end every way a run can end. */
const truthProject = (): TestProject => makeProject(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'truth-config.ts.txt'), 'utf8'));

const json = (res: RunResult) => JSON.parse(res.stdout);
const idOf = (res: RunResult) => json(res).id as string;

/** Where no Redis answers (the discard port). */
const DEAD_REDIS = { TQ_REDIS_URL: 'redis://127.0.0.1:9' };

describe('counts and states agree', () => {
  it('after completed, failed, cancelled and expired runs: queues, tasks --state, history and the monitor say the same', async () => {
    const p = truthProject();
    // Expired before any worker can take it.
    const expired = idOf(await p.run(['enqueue', 'perishable', '--json']));
    const worker = stopAfterTest(p.spawn(['worker', '-Q', 'default', '-n', 'w1', '-l', 'debug']));
    await worker.waitFor(/ready/);
    const done = [
      idOf(await p.run(['enqueue', 'hello', 'a', '--wait', '--json'])),
      idOf(await p.run(['enqueue', 'steps', '--wait', '--json'])),
    ];
    const failed = idOf(await p.run(['enqueue', 'boom', '--wait', '--json']));
    const cancelled = idOf(await p.run(['enqueue', 'patient', '--json']));
    await worker.waitFor(new RegExp(`patient\\[${cancelled.slice(-6)}\\] started`));
    expect((await p.run(['control', 'cancel', cancelled])).code).toBe(0);
    const totals = await eventually(async () => {
      const h = json(await p.run(['inspect', 'history', '--json']));
      return h.totals.total === 5 && h.totals.byState.expired === 1 && h.totals.byState.cancelled === 1 ? h.totals : undefined;
    });
    const expected = { completed: 2, failed: 1, cancelled: 1, expired: 1 };
    expect(totals).toEqual({ total: 5, byState: expected });

    // Queue counts: cancelled and expired are their own counts, never failed.
    const queue = json(await p.run(['inspect', 'queues', 'default', '--json'])).queues;
    expect(queue).toHaveLength(1);
    expect(queue[0]).toMatchObject({ name: 'default', waiting: 0, active: 0, delayed: 0, ...expected });
    const table = await p.run(['inspect', 'queues']);
    expect(table.stdout).toMatch(/queue +waiting +active +delayed +completed +failed +cancelled +expired/);
    expect(table.stdout).toMatch(/default +0 +0 +0 +2 +1 +1 +1 /);

    // inspect tasks --state, one state at a time.
    const ids: Record<string, string[]> = {};
    for (const state of Object.keys(expected)) {
      ids[state] = json(await p.run(['inspect', 'tasks', '--state', state, '--json'])).runs.map((r: { id: string }) => r.id);
    }
    expect(ids).toEqual({ completed: expect.arrayContaining(done), failed: [failed], cancelled: [cancelled], expired: [expired] });
    expect(ids.completed).toHaveLength(2);

    // History totals respect the state filter, and the --limit hint appears only when more match.
    const onlyFailed = await p.run(['inspect', 'history', '--state', 'failed']);
    expect(onlyFailed.stdout).toMatch(/^1 run\(s\) match: 1 failed$/m);
    expect(onlyFailed.stdout).not.toMatch(/--limit/);
    expect(json(await p.run(['inspect', 'history', '--state', 'cancelled', '--json'])).totals).toEqual({
      total: 1,
      byState: { cancelled: 1 },
    });
    const limited = await p.run(['inspect', 'history', '--state', 'completed', '--limit', '1']);
    expect(limited.stdout).toMatch(/^2 run\(s\) match: 2 completed \(showing 1; --limit for more\)$/m);

    // The monitor's header and queue row: the same numbers, cancelled and expired apart.
    const mon = await p.run(['monitor', '--once'], { env: { COLUMNS: '160' } });
    expect(mon.code).toBe(0);
    const lines = mon.stdout.split('\n');
    expect(lines[1]).toMatch(/completed 2 +failed 1 +cancelled 1 +expired 1 /);
    expect(lines[1]).toMatch(/failed 1h 1$/);
    expect(mon.stdout).toMatch(/default +0 +0 +0 +2 +1 +1 +1 /);

    // Runs tables show the runtime and the worker the JSON has.
    const completedTable = await p.run(['inspect', 'tasks', '--state', 'completed']);
    for (const id of done) expect(completedTable.stdout).toMatch(new RegExp(`${id} +\\w+ +default +completed +1 +[\\d.]+m?s +w1$`, 'm'));

    // A finished run shows its final progress (history's), not the last one Redis was sent.
    expect(json(await p.run(['inspect', 'task', done[1]!, '--json'])).progress).toBe(100);
    expect((await p.run(['inspect', 'task', done[1]!])).stdout).toMatch(/^progress +100$/m);

    // retry --failed brings back the failed run only: cancel and expiry are final.
    expect(json(await p.run(['control', 'retry', '--failed', '--json']))).toEqual({ count: 1 });
    for (const [id, state] of [
      [cancelled, 'cancelled'],
      [expired, 'expired'],
    ] as const) {
      const again = await p.run(['control', 'retry', id]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(new RegExp(`run ${id} is ${state}; only failed runs can be retried`));
    }
    await eventually(async () => json(await p.run(['inspect', 'history', '--json'])).totals.byState.failed === 1);
    expect(json(await p.run(['inspect', 'tasks', '--state', 'cancelled', '--json'])).runs).toHaveLength(1);
  }, 90_000);
});

describe('no-consumer and stopping workers', () => {
  it('no-consumer is set for waiting or orphaned active work, not for delayed runs alone', async () => {
    const p = truthProject();
    await p.run(['enqueue', 'hello', 'later', '-q', 'later', '--delay', '1h']);
    await p.run(['enqueue', 'hello', 'orphan', '-q', 'orphaned']);
    // A plain BullMQ consumer takes the run and goes away: active, and no tq worker is live.
    const taker = new Worker('orphaned', null, { connection: { url: p.redisUrl }, prefix: p.prefix, autorun: false });
    expect(await taker.getNextJob('orphan-token')).toBeTruthy();
    await taker.close(true);
    const queues = json(await p.run(['inspect', 'queues', '--json'])).queues as { name: string; flags: string[]; active: number }[];
    expect(queues.find((q) => q.name === 'later')).toMatchObject({ flags: [] });
    expect(queues.find((q) => q.name === 'orphaned')).toMatchObject({ active: 1, flags: ['no-consumer'] });
    const mon = await p.run(['monitor', '--once'], { env: { COLUMNS: '160' } });
    expect(mon.stdout).toMatch(/^ ?later +0 +0 +1 /m);
    expect(mon.stdout).not.toMatch(/^ ?later .*no-consumer/m);
    expect(mon.stdout).toMatch(/^ ?orphaned +0 +1 +0 .*no-consumer/m);
    expect(mon.stdout).toMatch(/^ ?worker +host +pid +active .* seen /m);
  });

  it('a worker in its warm shutdown is listed as stopping and no longer counts as a consumer', async () => {
    const p = truthProject();
    const worker = stopAfterTest(p.spawn(['worker', '-Q', 'default', '-n', 'drainer', '-l', 'debug', '--shutdown-timeout', '30s']));
    await worker.waitFor(/ready/);
    const id = idOf(await p.run(['enqueue', 'patient', '--json']));
    await worker.waitFor(new RegExp(`patient\\[${id.slice(-6)}\\] started`));
    const before = await p.run(['inspect', 'workers']);
    expect(before.stdout).toMatch(/worker +host +pid +queues +active +processed +failed +memory +uptime +seen +clock +flags/);
    expect(before.stdout).not.toMatch(/stopping/);
    worker.kill('SIGTERM');
    const listed = await eventually(async () => {
      const w = json(await p.run(['inspect', 'workers', '--json'])).workers[0];
      return w?.stopping ? w : undefined;
    });
    expect(listed).toMatchObject({ name: 'drainer', stopping: true });
    expect((await p.run(['inspect', 'workers'])).stdout).toMatch(/drainer .* stopping/);
    expect((await p.run(['monitor', '--once'], { env: { COLUMNS: '160' } })).stdout).toMatch(/^ ?drainer .* stopping/m);
    expect(json(await p.run(['inspect', 'queues', 'default', '--json'])).queues[0]).toMatchObject({ active: 1, consumers: 0 });
    // The run ends (cancelled), so the worker finishes its shutdown.
    expect((await p.run(['control', 'cancel', id])).code).toBe(0);
    expect(await worker.exited).toBe(0);
  }, 60_000);
});

describe('what inspect and control say about missing things', () => {
  it('cancel of an already-cancelled run says so, and --json failures print an error document', async () => {
    const p = truthProject();
    const id = idOf(await p.run(['enqueue', 'hello', 'x', '--json']));
    expect((await p.run(['control', 'cancel', id])).code).toBe(0);
    // A run cancelled while waiting is gone from Redis; history still knows how it ended.
    const again = await p.run(['control', 'cancel', id]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`tq: run ${id} is already cancelled; nothing to cancel`);
    const asJson = await p.run(['control', 'cancel', id, '--json']);
    expect(asJson.code).toBe(1);
    expect(json(asJson)).toEqual({
      error: { code: 'E_FINISHED', message: `run ${id} is already cancelled; nothing to cancel`, hint: null },
    });
    const unknown = await p.run(['control', 'cancel', 'no-such-run', '--json']);
    expect(unknown.code).toBe(1);
    expect(json(unknown).error).toMatchObject({ code: 'E_NO_RUN', message: expect.stringMatching(/no run no-such-run/) });
    expect(unknown.stderr).not.toMatch(/inspect tasks/);
    const badState = await p.run(['inspect', 'tasks', '--state', 'bogus', '--json']);
    expect(badState.code).toBe(2);
    expect(json(badState).error.code).toBe('E_USAGE');
  });

  it('a queue that does not exist is exit 1 with one line; inspect queues NAME shows one queue', async () => {
    const p = truthProject();
    await p.run(['enqueue', 'hello', 'x']);
    const missing = await p.run(['inspect', 'tasks', '--queue', 'nosuch']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tq: no queue "nosuch" under prefix/)]);
    expect((await p.run(['inspect', 'queues', 'nosuch'])).code).toBe(1);
    const one = await p.run(['inspect', 'queues', 'default']);
    expect(one.code).toBe(0);
    expect(one.stdout.trim().split('\n')).toHaveLength(2);
    expect(one.stdout).toMatch(/^default +1 +0 +0 +0 +0 +0 +0 /m);
    // A queue only a plain BullMQ producer used exists too.
    const plain = bullQueue(p, 'plain');
    await plain.add('hello', {});
    await plain.close();
    expect((await p.run(['inspect', 'tasks', '--queue', 'plain'])).code).toBe(0);
  });

  it('history and registered read SQLite and the config when Redis is unreachable, with one warning line', async () => {
    const p = truthProject();
    const worker = stopAfterTest(p.spawn(['worker', '-Q', 'default']));
    await worker.waitFor(/ready/);
    const id = idOf(await p.run(['enqueue', 'hello', 'kept', '--wait', '--json']));
    expect((await p.run(['inspect', 'history'])).code).toBe(0); // this host's history is caught up
    const history = await p.run(['inspect', 'history'], { env: DEAD_REDIS });
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(new RegExp(`${id} +hello +default +completed`));
    expect(history.stdout).toMatch(/^1 run\(s\) match: 1 completed$/m);
    expect(history.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^warning: Redis is unreachable/)]);
    const registered = await p.run(['inspect', 'registered', '--json'], { env: DEAD_REDIS });
    expect(registered.code).toBe(0);
    expect(json(registered).tasks.find((t: { name: string }) => t.name === 'hello')).toMatchObject({ queue: 'default', workers: null });
    expect(registered.stderr).toMatch(/Redis is unreachable .*; showing the tasks of the config; which workers serve them is unknown/);
    expect(registered.stderr).not.toMatch(/history/);
    // Commands that need Redis still fail, with an error document under --json.
    const queues = await p.run(['inspect', 'queues', '--json'], { env: DEAD_REDIS });
    expect(queues.code).toBe(1);
    expect(json(queues).error.code).toBe('E_REDIS');
  });
});
