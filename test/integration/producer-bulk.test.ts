import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { Producer } from '../../src/queue/index.js';
import { appProject, bullQueue, query } from '../helpers/project.js';

describe('Producer.enqueueMany (chunks of 500, two in flight)', () => {
  it('adds every run once, in order, reports progress per chunk, and records each in history', async () => {
    const project = appProject();
    const config = await loadConfig(path.join(project.dir, 'tasks.config.ts'));
    const producer = await Producer.connect(config, { redisUrl: project.redisUrl, prefix: project.prefix });
    const n = 1234;
    const progress: number[] = [];
    const before = producer.now();
    let runs;
    try {
      runs = await producer.enqueueMany(
        Array.from({ length: n }, (_, i) => ({ task: 'hello', payload: { name: `n${i}` } })),
        (done) => progress.push(done),
      );
    } finally {
      await producer.close();
    }
    expect(runs).toHaveLength(n);
    expect(new Set(runs.map((r) => r.id)).size).toBe(n);
    expect(progress).toEqual([500, 1000, 1234]);

    const queue = bullQueue(project, 'default');
    try {
      expect(await queue.getWaitingCount()).toBe(n);
      // The i-th run returned is the i-th request; its data is the payload itself, its timestamp
      // the enqueue time by the server's clock.
      for (const i of [0, 499, 500, 1001, n - 1]) {
        const job = await queue.getJob(runs[i]!.id);
        expect(job?.data).toEqual({ name: `n${i}` });
        expect(job!.timestamp).toBeGreaterThanOrEqual(before);
        expect(job!.timestamp).toBeLessThan(before + 60_000);
      }
    } finally {
      await queue.close();
    }

    // Every run's `enqueued` event reached the stream: a fresh command catches the file up.
    const res = await project.run(['inspect', 'history', '--json', '--limit', '1']);
    expect(res.code).toBe(0);
    const rows = query<{ state: string; n: number }>(project.dbFile, 'SELECT state, count(*) AS n FROM task_runs GROUP BY state');
    expect(rows).toEqual([{ state: 'waiting', n }]);
    const [first] = query<{ payload: string }>(project.dbFile, 'SELECT payload FROM task_runs WHERE job_id = ?', runs[0]!.id);
    expect(JSON.parse(first!.payload)).toEqual({ name: 'n0' });
  });
});
