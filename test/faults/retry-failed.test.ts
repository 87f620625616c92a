import { describe, expect, it } from 'vitest';
import { makeProject, stopAfterTest } from '../helpers/cli.js';
import { bullQueue, eventually } from '../helpers/project.js';
import { producerFor, report } from './helpers.js';

const CONFIG = `
import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  worker: { lockDuration: '2s', stalledInterval: '1s', shutdownTimeout: '3s' },
  tasks: {
    boom: defineTask({ run: async () => { throw new Error('always fails'); } }),
    fine: defineTask({ run: async () => 'ok' }),
  },
});
`;

describe('tq control retry --failed', () => {
  it('ends while a worker keeps failing the task, having retried each run found failed once', async () => {
    const project = makeProject(CONFIG);
    const worker = stopAfterTest(project.spawn(['worker', '-c', '4']));
    await worker.waitFor(/ready/);
    const producer = await producerFor(project);
    const queue = bullQueue(project, 'default');
    try {
      const runs = 24;
      for (let i = 0; i < runs; i++) await producer.enqueue('boom', { i }, {});
      await eventually(async () => ((await queue.getFailedCount()) === runs ? true : undefined), 20_000, 'all runs failed');

      const started = Date.now();
      const res = await project.run(['control', 'retry', '--failed'], { timeoutMs: 30_000 });
      const tookMs = Date.now() - started;
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/^retried 24 failed run\(s\)/);
      // Each run was retried once: two attempts made, whatever the worker did meanwhile.
      await eventually(async () => ((await queue.getFailedCount()) === runs ? true : undefined), 20_000, 'runs failed again');
      const failed = await queue.getFailed(0, -1);
      expect(failed.map((j) => j.attemptsMade).sort()).toEqual(Array(runs).fill(2));

      const json = await project.run(['control', 'retry', '--failed', '--task', 'boom', '--json'], { timeoutMs: 30_000 });
      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ count: runs, task: 'boom' });
      report(`retry --failed with a task that keeps failing: ended in ${tookMs} ms (CLI start included), retried ${runs} runs once each`);
    } finally {
      await queue.close();
      await producer.close();
    }
  }, 90_000);
});
