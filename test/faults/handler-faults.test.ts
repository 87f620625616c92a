import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, makeProject, stopAfterTest, type TestProject } from '../helpers/cli.js';
import { bullQueue, eventually, runRow } from '../helpers/project.js';
import { report } from './helpers.js';

const project = () => makeProject(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'handler-faults-config.ts.txt'), 'utf8'));

function executionsOf(p: TestProject, task: string): number {
  const file = p.file('executions.log');
  if (!fs.existsSync(file)) return 0;
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${task} `)).length;
}

async function enqueue(p: TestProject, task: string, payload: unknown = {}): Promise<string> {
  const r = await p.run(['enqueue', task, '--payload', JSON.stringify(payload), '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

const worker = (p: TestProject, name: string) => stopAfterTest(p.spawn(['worker', '-n', name]));

describe('handlers that block the event loop or try to end the worker', () => {
  it('a 5 s busy loop with a 2 s lock runs once, completes, and says so at once and in the run log', async () => {
    const p = project();
    const w = worker(p, 'w1');
    await w.waitFor(/ready/);
    const started = Date.now();
    const id = await enqueue(p, 'spin', { ms: 5000 });
    // The helper thread speaks while the main thread is still stuck.
    await w.waitFor(/the event loop has been blocked for \d+\.\ds while running spin\[/);
    const saidAfter = Date.now() - started;
    await w.waitFor(new RegExp(`spin\\[\\w*\\] succeeded`));
    // Said while the handler was still blocked: before the run's own end.
    expect(w.output.search(/the event loop has been blocked/)).toBeLessThan(w.output.search(/spin\[\w*\] succeeded/));
    await w.waitFor(/blocked the event loop for 5\.\ds .*make the handler async, or set isolate: true/);
    const queue = bullQueue(p, 'default');
    try {
      await eventually(async () => (await queue.getJobState(id)) === 'completed', 15_000, 'completed');
      // Let a stall check come and go: nothing runs it again.
      await new Promise((r) => setTimeout(r, 3000));
      expect(await queue.getJobState(id)).toBe('completed');
    } finally {
      await queue.close();
    }
    expect(executionsOf(p, 'spin')).toBe(1);
    const row = await eventually(() => {
      const r = runRow(p, id);
      return r?.state === 'completed' ? r : undefined;
    });
    expect(row.attempt).toBe(1);
    expect(row.logs).toMatch(/blocked the event loop for 5\.\ds/);
    report(`handler blocking 5 s with a 2 s lock: 1 execution (was 21), warned after ${(saidAfter / 1000).toFixed(1)} s`);
  }, 60_000);

  it('a handler blocking past worker.maxBlocked ends its worker; after two such ends the run fails with the reason', async () => {
    const p = project();
    const id = await enqueue(p, 'spin', { ms: 60_000 });
    for (let round = 1; round <= 2; round++) {
      const w = worker(p, `blocker-${round}`);
      const code = await w.exited;
      expect(code).not.toBe(0);
      expect(w.output).toMatch(/over worker\.maxBlocked, 6\.0s\) by spin\[/);
      expect(w.output).toMatch(/ending this process \(SIGKILL\) so its runs are recovered by another worker/);
    }
    const w = worker(p, 'survivor');
    await w.waitFor(/ready/);
    await w.waitFor(/spin\[\w*\] failed/, 30_000);
    expect(executionsOf(p, 'spin')).toBe(2);
    const row = await eventually(() => {
      const r = runRow(p, id);
      return r?.state === 'failed' ? r : undefined;
    }, 20_000);
    expect(row.error).toMatch(/^its executions ended their worker 2 times: blocked the event loop for over 6\.0s \(worker\.maxBlocked\)/);
    report('handler blocking forever: worker ended after worker.maxBlocked, 2 executions, then failed with the reason (was 21 executions)');
  }, 120_000);

  it('a handler past its time limit while blocking fails with the time limit, not retried', async () => {
    const p = project();
    const id = await enqueue(p, 'spinLimited', { ms: 60_000 });
    const w1 = worker(p, 'limited-1');
    expect(await w1.exited).not.toBe(0);
    expect(w1.output).toMatch(/past the time limit of spinLimited\[/);
    const w2 = worker(p, 'limited-2');
    await w2.waitFor(/spinLimited\[\w*\] failed/, 30_000);
    expect(executionsOf(p, 'spinLimited')).toBe(1);
    const row = await eventually(() => {
      const r = runRow(p, id);
      return r?.state === 'failed' ? r : undefined;
    }, 20_000);
    expect(row.error).toMatch(/^TimeLimitExceeded: run exceeded its time limit while blocking the event loop/);
  }, 90_000);

  it('process.exit(0) in a handler fails that run; the worker stays up and runs the next one', async () => {
    const p = project();
    const w = worker(p, 'exit-1');
    await w.waitFor(/ready/);
    const id = await enqueue(p, 'exits');
    await w.waitFor(/exits\[\w*\] failed/);
    const next = await enqueue(p, 'ok');
    await w.waitFor(/ok\[\w*\] succeeded/);
    expect(w.child.exitCode).toBeNull();
    const row = await eventually(() => {
      const r = runRow(p, id);
      return r?.state === 'failed' ? r : undefined;
    });
    expect(row.error).toMatch(/the handler called process\.exit\(0\)/);
    expect(executionsOf(p, 'exits')).toBe(1);
    expect(runRow(p, next)?.state ?? 'completed').not.toBe('failed');
  }, 60_000);

  it('a throw from a timer ends the worker with exit 1 and one line; the run crashes two workers at most, then fails', async () => {
    const p = project();
    const id = await enqueue(p, 'timerThrow');
    for (let round = 1; round <= 2; round++) {
      const w = worker(p, `crash-${round}`);
      expect(await w.exited).toBe(1);
      expect(w.output).toMatch(
        /uncaught exception \(thrown from a timer\); ending this worker \(exit 1\) after handing back 1 run\(s\): timerThrow\[/,
      );
    }
    const w = worker(p, 'after-crashes');
    await w.waitFor(/timerThrow\[\w*\] failed/, 30_000);
    expect(executionsOf(p, 'timerThrow')).toBe(2);
    const row = await eventually(() => {
      const r = runRow(p, id);
      return r?.state === 'failed' ? r : undefined;
    }, 20_000);
    expect(row.error).toMatch(
      /^its executions ended their worker 2 times: its worker crashed: uncaught exception from handler code \(thrown from a timer\)/,
    );
  }, 90_000);

  it('a leaked rejection is one warning line; the run completes and the worker stays up', async () => {
    const p = project();
    const w = worker(p, 'leaky');
    await w.waitFor(/ready/);
    await enqueue(p, 'leak');
    await enqueue(p, 'leak');
    await w.waitFor(/leak\[\w*\] succeeded[\s\S]*leak\[\w*\] succeeded/);
    expect(w.output.match(/unhandled promise rejection \(nobody catches me\)/g)).toHaveLength(1);
    expect(w.child.exitCode).toBeNull();
  }, 60_000);

  it('an error whose message getter throws fails only its run, with a readable reason', async () => {
    const p = project();
    const w = worker(p, 'weird');
    await w.waitFor(/ready/);
    const id = await enqueue(p, 'weirdError');
    await w.waitFor(/weirdError\[\w*\] failed/);
    const row = await eventually(() => {
      const r = runRow(p, id);
      return r?.state === 'failed' ? r : undefined;
    });
    expect(row.error).toMatch(/an error whose message could not be read/);
    expect(executionsOf(p, 'weirdError')).toBe(1);
    expect(w.child.exitCode).toBeNull();
  }, 60_000);
});
