import { describe, expect, it } from 'vitest';
import { FatalTaskError } from '../../src/core/errors.js';
import { RunControl } from '../../src/core/run-control.js';
import { RunAborted, timeLimitReason, TIME_LIMIT } from '../../src/core/run-outcome.js';
import type { ResolvedTask } from '../../src/config/resolved.js';
import { awaitOutcome, ABORT_GRACE_MS, ZombieTracker } from '../../src/queue/worker/execute.js';

const task = (retryOn?: (err: unknown) => boolean) =>
  ({ name: 't', definition: { run: () => undefined, ...(retryOn ? { retryOn } : {}) } }) as unknown as ResolvedTask;
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

function setup(retryOn?: (err: unknown) => boolean) {
  const lines: string[] = [];
  const limits: number[] = [];
  const logger = { info: () => undefined, warn: (l: string) => lines.push(l) };
  const zombies = new ZombieTracker(1, logger, (n) => limits.push(n));
  const options = { task: task(retryOn), isolated: false, zombies, label: 't[r1]', logger };
  return { lines, limits, zombies, options };
}

describe('awaitOutcome', () => {
  it('a result is returned as JSON (undefined as null)', async () => {
    const { options } = setup();
    expect(await awaitOutcome(Promise.resolve(undefined), new RunControl(), options)).toBeNull();
    expect(await awaitOutcome(Promise.resolve({ a: 1 }), new RunControl(), options)).toEqual({ a: 1 });
  });

  it('a retryable error passes through; a final one becomes UnrecoverableError with its message and stack', async () => {
    const { options } = setup();
    const plain = new Error('again');
    await expect(awaitOutcome(Promise.reject(plain), new RunControl(), options)).rejects.toBe(plain);
    const fatal = new FatalTaskError('never');
    const err = (await awaitOutcome(Promise.reject(fatal), new RunControl(), options).catch((e: unknown) => e)) as Error;
    expect([err.name, err.message, err.stack]).toEqual(['UnrecoverableError', 'never', fatal.stack]);
  });

  it('an abort ends the run at once; a handler that honours it is no zombie and no grace timer is left', async () => {
    const { options, zombies } = setup();
    const control = new RunControl();
    const done = new Promise((_, reject) =>
      control.signal.addEventListener('abort', () => setImmediate(() => reject(control.signal.reason)), { once: true }),
    );
    const before = timers();
    const outcome = awaitOutcome(done, control, options).catch((e: unknown) => e);
    control.abort(new RunAborted(TIME_LIMIT, timeLimitReason(1000)));
    const err = (await outcome) as Error;
    expect([err.name, err.message]).toEqual(['UnrecoverableError', 'TimeLimitExceeded: run exceeded its 1.0s time limit']);
    expect(zombies.count).toBe(0);
    expect(timers()).toBe(before);
  });

  it('a handler that ignores its abort becomes a zombie until it settles; past the limit the worker is told once', async () => {
    const { options, zombies, limits, lines } = setup();
    const release: (() => void)[] = [];
    for (let i = 0; i < 2; i++) {
      const control = new RunControl();
      const done = new Promise<void>((resolve) => release.push(resolve));
      const outcome = awaitOutcome(done, control, options).catch((e: unknown) => e);
      const startedAt = Date.now();
      control.abort(new RunAborted('Cancelled', 'Cancelled: cancelled by user'));
      expect(((await outcome) as Error).message).toBe('Cancelled: cancelled by user');
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(ABORT_GRACE_MS - 5);
    }
    expect(zombies.count).toBe(2);
    expect(limits).toEqual([2]);
    expect(lines[0]).toBe('t[r1] ignored its abort signal and keeps running as a zombie (1 now; this worker restarts itself past 1)');
    release.forEach((r) => r());
    await new Promise((r) => setImmediate(r));
    expect(zombies.count).toBe(0);
  });

  it('a retryOn that throws fails the run for good, with a warning naming the task', async () => {
    const { options, lines } = setup(() => {
      throw new Error('bug');
    });
    const err = (await awaitOutcome(Promise.reject(new Error('x')), new RunControl(), options).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('UnrecoverableError');
    expect(lines).toEqual(['t: retryOn threw (bug); not retrying']);
  });
});
