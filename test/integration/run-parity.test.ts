import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pollUntil } from '../../src/core/async.js';
import type { RunEvent } from '../../src/core/run-events.js';
import { createClient, defineConfig, defineTask, FatalTaskError, UsageError } from '../../src/index.js';
import { configFromObject } from '../../src/config/index.js';
import { connect, RunEventReader, WorkerRuntime, type Redis } from '../../src/queue/index.js';
import { openStore, type Store } from '../../src/store/index.js';

/** The fixture tasks: one per way a run can end, each reporting progress or log lines. */
function fixtureConfig() {
  return defineConfig({
    tasks: {
      succeeds: defineTask({
        run: async (_p: object, ctx) => {
          await ctx.progress(10);
          await ctx.log('starting');
          await ctx.progress({ step: 'half' });
          await ctx.log('done');
          await ctx.progress(100);
          return { ok: true };
        },
      }),
      plainError: defineTask({
        attempts: 2,
        run: async (_p: object, ctx) => {
          await ctx.log(`attempt ${ctx.attempt}`);
          await ctx.progress(ctx.attempt * 10);
          throw new Error('plain boom');
        },
      }),
      fatal: defineTask({
        attempts: 3,
        run: async () => {
          throw new FatalTaskError('corrupt input');
        },
      }),
      usage: defineTask({
        attempts: 3,
        run: async (_p: object, ctx) => {
          await ctx.log('checking input');
          throw new UsageError('bad argument');
        },
      }),
      retryOnThrows: defineTask({
        attempts: 3,
        retryOn: () => {
          throw new Error('retryOn bug');
        },
        run: async () => {
          throw new Error('flaky');
        },
      }),
      timeLimit: defineTask({
        attempts: 2,
        timeout: 200,
        run: (_p: object, ctx) =>
          new Promise((_, reject) => {
            void ctx.progress(5);
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
          }),
      }),
    },
  });
}

/** What both executors must agree on. */
interface Outcome {
  state: string;
  attempt: number;
  error: string | null;
  progress: unknown;
  logs: string[];
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired']);

/** A run's outcome as the worker wrote it to the run-event stream (what history is made of). */
function outcomeFromEvents(events: RunEvent[]): Outcome | undefined {
  const end = events.find((e) => TERMINAL.has(e.type));
  if (!end) return undefined;
  const progress = events.filter((e) => e.type === 'progress').at(-1)?.progress ?? null;
  const logs = events.filter((e) => e.type === 'log').map((e) => e.log!);
  return { state: end.type, attempt: end.attempt, error: end.error ?? null, progress, logs };
}

describe('one definition of a run: inline and on a worker', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-parity-'));
  const prefix = `p${randomBytes(4).toString('hex')}`;
  const redisUrl = inject('redisUrl');
  const config = fixtureConfig();
  const inlineWarnings: string[] = [];
  const workerWarnings: string[] = [];
  const inline = createClient(config, { inline: true, dir, logger: { info: () => undefined, warn: (l) => inlineWarnings.push(l) } });
  const remote = createClient(config, { redis: redisUrl, prefix, dir });
  let store: Store;
  let worker: WorkerRuntime;
  let redis: Redis;
  let reader: RunEventReader;

  beforeAll(async () => {
    store = openStore(path.join(dir, '.tq', `${prefix}.db`), { prefix });
    worker = await WorkerRuntime.start({
      config: configFromObject(config, dir),
      redisUrl,
      prefix,
      queues: ['default'],
      concurrency: 2,
      records: store.records,
      logger: { info: () => undefined, warn: (l) => workerWarnings.push(l) },
    });
    redis = await connect(redisUrl, { role: 'producer', name: 'parity-reader' });
    reader = new RunEventReader(redis, prefix);
  });
  afterAll(async () => {
    await remote.close();
    await inline.close();
    await worker.shutdown(1000);
    redis.disconnect();
    store.close();
  });

  const onWorker = async (task: string): Promise<Outcome> => {
    const run = await remote.enqueue(task as never, {} as never);
    await run.wait({ timeout: '10s' }).catch((err: unknown) => {
      if (!(err instanceof Error && err.name === 'RunFailedError')) throw err;
    });
    // The worker writes its events in batches: wait for the one that ends the run.
    const outcome = await pollUntil(
      async () => {
        const entries = await reader.read('0-0', 10_000, 0);
        return outcomeFromEvents(entries.flatMap((e) => e.events).filter((e) => e.jobId === run.id));
      },
      { intervalMs: 20, timeoutMs: 5000 },
    );
    if (!outcome) throw new Error(`no final event for ${task} run ${run.id}`);
    // The remote handle tells the same story as the events.
    const info = await run.info();
    expect(info).toMatchObject({
      id: run.id,
      task,
      queue: 'default',
      state: outcome.state,
      attempt: outcome.attempt,
      error: outcome.error,
      logs: outcome.logs,
    });
    return outcome;
  };

  const inlineOutcome = async (task: string): Promise<Outcome> => {
    const info = await (await inline.enqueue(task as never, {} as never)).info();
    if (!info) throw new Error(`inline run of ${task} unknown`);
    return { state: info.state, attempt: info.attempt, error: info.error, progress: info.progress, logs: info.logs };
  };

  const cases: [string, Outcome][] = [
    ['succeeds', { state: 'completed', attempt: 1, error: null, progress: 100, logs: ['starting', 'done'] }],
    ['plainError', { state: 'failed', attempt: 2, error: 'plain boom', progress: 20, logs: ['attempt 1', 'attempt 2'] }],
    ['fatal', { state: 'failed', attempt: 1, error: 'corrupt input', progress: null, logs: [] }],
    ['usage', { state: 'failed', attempt: 1, error: 'bad argument', progress: null, logs: ['checking input'] }],
    ['retryOnThrows', { state: 'failed', attempt: 1, error: 'flaky', progress: null, logs: [] }],
    ['timeLimit', { state: 'failed', attempt: 1, error: 'TimeLimitExceeded: run exceeded its 0.20s time limit', progress: 5, logs: [] }],
  ];

  for (const [task, expected] of cases) {
    it(`${task}: same state, attempts, reason, progress and logs`, async () => {
      const [inlineRun, workerRun] = await Promise.all([inlineOutcome(task), onWorker(task)]);
      expect(workerRun).toEqual(expected);
      expect(inlineRun).toEqual(expected);
    });
  }

  it('a retryOn that throws is reported the same way by both', () => {
    expect(inlineWarnings).toContain('retryOnThrows: retryOn threw (retryOn bug); not retrying');
    expect(workerWarnings).toContain('retryOnThrows: retryOn threw (retryOn bug); not retrying');
  });

  it('the inline handle has the shape of `tq inspect task --json`', async () => {
    const info = await (await inline.enqueue('succeeds' as never, { a: 1 } as never)).info();
    expect(Object.keys(info!).sort()).toEqual(
      [
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
      ].sort(),
    );
    expect(info).toMatchObject({ payload: { a: 1 }, result: { ok: true }, worker: null });
    expect(info!.runtimeMs).toBeGreaterThanOrEqual(0);
    expect(await inline.run('nope').info()).toBeUndefined();
    expect(await remote.run('nope').info()).toBeUndefined();
  });
});
