import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAfterTest, type TqProcess } from '../helpers/cli.js';
import { bullQueue, eventually, query, runRow, semanticsProject } from '../helpers/project.js';

const idOf = (stdout: string) => stdout.trim().split('\n').pop()!;
const ms = (iso: string | null) => Date.parse(iso ?? '');

describe('retries', () => {
  const project = semanticsProject();
  let worker: TqProcess;
  beforeAll(async () => {
    worker = project.spawn(['worker', '-Q', 'default', '-c', '2']);
    await worker.waitFor(/ready/);
  });
  afterAll(async () => {
    await worker.stop();
  });

  it('exponential backoff: attempts 3 with 300 ms base wait ~300 then ~600 ms, keeping every error', async () => {
    const res = await project.run(['enqueue', 'flaky', '--wait', '--json']);
    expect(res.code).toBe(1);
    const doc = JSON.parse(res.stdout);
    expect(doc).toMatchObject({ state: 'failed', error: 'flaky attempt 3' });
    const row = runRow(project, doc.id)!;
    expect(row).toMatchObject({ state: 'failed', attempt: 3, error: 'flaky attempt 3' });
    const errors = JSON.parse(row.errors!) as { attempt: number; error: string; at: string }[];
    expect(errors.map((e) => e.error)).toEqual(['flaky attempt 1', 'flaky attempt 2', 'flaky attempt 3']);
    const gap1 = ms(errors[1]!.at) - ms(errors[0]!.at);
    const gap2 = ms(errors[2]!.at) - ms(errors[1]!.at);
    expect(gap1).toBeGreaterThanOrEqual(280);
    expect(gap1).toBeLessThan(1200);
    expect(gap2).toBeGreaterThanOrEqual(580);
    expect(gap2).toBeLessThan(1800);
  });

  it('retryOn returning false stops at attempt 1', async () => {
    const res = await project.run(['enqueue', 'picky', '--wait', '--json']);
    expect(res.code).toBe(1);
    const row = runRow(project, JSON.parse(res.stdout).id)!;
    expect(row).toMatchObject({ state: 'failed', attempt: 1, error: 'permanent problem' });
  });

  it('FatalTaskError skips the remaining attempts', async () => {
    const res = await project.run(['enqueue', 'fatal', '--wait', '--json']);
    expect(res.code).toBe(1);
    const row = runRow(project, JSON.parse(res.stdout).id)!;
    expect(row).toMatchObject({ state: 'failed', attempt: 1, error: 'this will never work' });
  });

  it('a time limit frees the slot even when the handler ignores its signal, and is final', async () => {
    const t = Date.now();
    const [limited, quick] = await Promise.all([
      project.run(['enqueue', 'sleepy', '--wait', '--json']),
      project.run(['enqueue', 'hello', 'meanwhile', '--wait', '--json']),
    ]);
    expect(Date.now() - t).toBeLessThan(2900);
    expect(limited.code).toBe(1);
    const doc = JSON.parse(limited.stdout);
    expect(doc.error).toMatch(/^TimeLimitExceeded: run exceeded its 0\.50s time limit$/);
    expect(runRow(project, doc.id)).toMatchObject({ state: 'failed', attempt: 1 });
    expect(quick.code).toBe(0);
    await worker.waitFor(/ignored its abort signal and keeps running as a zombie \(1 now/);
  });

  it('--time-limit overrides per run', async () => {
    const res = await project.run(['enqueue', 'sleepy', '--time-limit', '200ms', '--wait', '--json']);
    expect(JSON.parse(res.stdout).error).toMatch(/0\.20s time limit/);
  });
});

describe('isolate: true', () => {
  it('kills a handler that never yields at its time limit, and runs isolated handlers in a child process', async () => {
    const project = semanticsProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
    await worker.waitFor(/ready/);
    const spun = await project.run(['enqueue', 'spinner', '--wait', '--json']);
    expect(spun.code).toBe(1);
    expect(JSON.parse(spun.stdout).error).toMatch(/^TimeLimitExceeded/);
    const iso = await project.run(['enqueue', 'isolatedHello', 'kid', '--wait', '--json']);
    expect(iso.code).toBe(0);
    const doc = JSON.parse(iso.stdout);
    expect(doc.result.hello).toBe('kid');
    expect(doc.result.pid).not.toBe(worker.child.pid);
    await eventually(() => runRow(project, doc.id)?.logs?.includes(`in child ${doc.result.pid}`), 5000, 'child log line in history');
    expect(worker.output).not.toMatch(/zombie/);
  });
});

describe('zombies', () => {
  it('a worker whose zombies exceed worker.maxZombies shuts down warmly with exit 1 to be restarted', async () => {
    const project = semanticsProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-c', '2']));
    await worker.waitFor(/ready/);
    await Promise.all([project.run(['enqueue', 'sleepy']), project.run(['enqueue', 'sleepy'])]);
    expect(await worker.exited).toBe(1);
    expect(worker.output).toMatch(/2 zombie handlers \(over worker\.maxZombies\); restart me: warm shutdown/);
  });
});

describe('rate limits', () => {
  it("'5/s' holds across two worker processes (5/s +-1 over 4 s) without failing or retrying runs", async () => {
    const project = semanticsProject();
    const a = stopAfterTest(project.spawn(['worker', '-Q', 'limited', '-c', '4']));
    const b = stopAfterTest(project.spawn(['worker', '-Q', 'limited', '-c', '4']));
    await Promise.all([a.waitFor(/ready/), b.waitFor(/ready/)]);
    const res = await project.run(['enqueue', 'limited', '--json']);
    expect(res.code).toBe(0);
    // 30 more in one go, from a plain bulk producer.
    const queue = bullQueue(project, 'limited');
    await queue.addBulk(Array.from({ length: 30 }, (_, i) => ({ name: 'limited', data: {}, opts: { jobId: `lim-${i}` } })));
    await eventually(async () => (await queue.getCompletedCount()) === 31, 15_000, '31 completed');
    const jobs = await queue.getCompleted(0, 100);
    await queue.close();
    const starts = jobs.map((j) => Number(j.returnvalue)).sort((x, y) => x - y);
    const first = starts[0]!;
    const inWindow = starts.filter((t) => t - first < 4000).length;
    expect(inWindow).toBeGreaterThanOrEqual(16);
    expect(inWindow).toBeLessThanOrEqual(25);
    for (const j of jobs) expect(j.attemptsMade).toBe(1);
  });
});

describe('priority, delay, expiry', () => {
  it('a single-concurrency worker serves lower priority numbers first', async () => {
    const project = semanticsProject();
    for (const [label, p] of [
      ['five', 5],
      ['one', 1],
      ['three', 3],
    ] as const) {
      expect((await project.run(['enqueue', 'ranked', label, '--priority', String(p)])).code).toBe(0);
    }
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'ranked', '-c', '1']));
    await eventually(() => query(project.dbFile, "SELECT 1 FROM task_runs WHERE state = 'completed'").length === 3, 15_000, '3 done');
    // The worker's own log gives the order: no-op runs can start within the same millisecond,
    // so history timestamps cannot break the tie.
    const served = () => [...worker.output.matchAll(/ranked\[\w+\] succeeded in [^>]*-> "(\w+)"/g)].map((m) => m[1]);
    const order = await eventually(() => (served().length === 3 ? served() : undefined), 5000, '3 log lines');
    expect(order).toEqual(['one', 'three', 'five']);
    await worker.stop();
  });

  it('a delayed run does not start early', async () => {
    const project = semanticsProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
    await worker.waitFor(/ready/);
    const res = await project.run(['enqueue', 'hello', 'later', '--delay', '1500ms', '--json']);
    const doc = JSON.parse(res.stdout);
    expect(doc.state).toBe('delayed');
    const row = await eventually(() => {
      const r = runRow(project, doc.id);
      return r?.state === 'completed' ? r : undefined;
    }, 10_000);
    expect(ms(row.started_at) - ms(row.enqueued_at)).toBeGreaterThanOrEqual(1450);
  });

  it('an expired run is never executed and ends expired', async () => {
    const project = semanticsProject();
    const res = await project.run(['enqueue', 'perishable', '--json']);
    const id = JSON.parse(res.stdout).id;
    await new Promise((r) => setTimeout(r, 600)); // let it expire while no worker consumes the queue
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'perishable']));
    const row = await eventually(() => {
      const r = runRow(project, id);
      return r?.state === 'expired' ? r : undefined;
    }, 10_000);
    expect(row.error).toMatch(/^Expired: not started before it expired/);
    expect(row.started_at).toBeNull();
    expect(worker.output).not.toMatch(/succeeded/);
  });
});

describe('cancel', () => {
  it('removes a waiting run', async () => {
    const project = semanticsProject();
    const id = idOf((await project.run(['enqueue', 'deduped', 'k1'])).stdout);
    const res = await project.run(['control', 'cancel', id]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`cancelled run ${id} \\(was waiting in queue parked\\)`));
    const queue = bullQueue(project, 'parked');
    expect(await queue.getJob(id)).toBeUndefined();
    await queue.close();
    await eventually(() => runRow(project, id)?.state === 'cancelled', 5000, 'history says cancelled');
    const again = await project.run(['control', 'cancel', 'no-such-run']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no run no-such-run/);
  });

  it('aborts an active run on another worker process through ctx.signal', async () => {
    const project = semanticsProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'slow', '-l', 'debug']));
    await worker.waitFor(/ready/);
    const id = idOf((await project.run(['enqueue', 'patient', '20000'])).stdout);
    await worker.waitFor(new RegExp(`patient\\[${id.slice(-6)}\\] started`));
    const t = Date.now();
    const res = await project.run(['control', 'cancel', id, '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ id, outcome: 'requested', state: 'cancelled' });
    expect(Date.now() - t).toBeLessThan(5000);
    const row = await eventually(() => {
      const r = runRow(project, id);
      return r?.state === 'cancelled' ? r : undefined;
    }, 5000);
    expect(row.error).toMatch(/^Cancelled: cancelled by user/);
    expect(JSON.parse(row.logs!)).toEqual(['patient started']);
    expect(worker.output).not.toMatch(/zombie/);
    // Final: cancelling again says it is over.
    const again = await project.run(['control', 'cancel', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already cancelled/);
  });
});

describe('progress, logs, dedupe and schemas', () => {
  it('progress and log lines reach the history', async () => {
    const project = semanticsProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'slow']));
    await worker.waitFor(/ready/);
    const res = await project.run(['enqueue', 'patient', '50', '--wait', '--json']);
    const id = JSON.parse(res.stdout).id;
    const row = await eventually(() => {
      const r = runRow(project, id);
      return r?.state === 'completed' && r.logs ? r : undefined;
    }, 5000);
    expect(JSON.parse(row.progress!)).toBe(100);
    expect(JSON.parse(row.logs!)).toEqual(['patient started']);
  });

  it('dedupe: at most one pending run per key', async () => {
    const project = semanticsProject();
    const first = JSON.parse((await project.run(['enqueue', 'deduped', 'same', '--json'])).stdout);
    const second = JSON.parse((await project.run(['enqueue', 'deduped', 'same', '--json'])).stdout);
    const other = JSON.parse((await project.run(['enqueue', 'deduped', 'other', '--json'])).stdout);
    expect(second).toMatchObject({ id: first.id, existed: true });
    expect(other.id).not.toBe(first.id);
    const queue = bullQueue(project, 'parked');
    expect(await queue.getWaitingCount()).toBe(2);
    await queue.close();
  });

  it('schema: an invalid payload is refused at enqueue with the validator message (exit 2)', async () => {
    const project = semanticsProject();
    const bad = await project.run(['enqueue', 'counted', '--payload', '{"count": -1}']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('tq: invalid payload for task "counted": count: count must be a positive integer');
    const good = await project.run(['enqueue', 'counted', '--payload', '{"count": 2}']);
    expect(good.code).toBe(0);
  });
});
