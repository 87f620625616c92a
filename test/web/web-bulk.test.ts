import { describe, expect, it } from 'vitest';
import { makeProject, stopAfterTest } from '../helpers/cli.js';
import { bullQueue, eventually, query } from '../helpers/project.js';

const CONFIG = `
import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  tasks: {
    fail: defineTask({ args: ['n'], run: async () => { throw new Error('fails on purpose'); } }),
  },
});
`;
const RUNS = 1200;
const ADMIN = 'ops:admin:bulk-admin-secret-0123456789';

describe('tq web bulk actions', () => {
  it(`retries ${RUNS} failed runs by query: a dry run first, then in chunks of at most 500 with progress`, async () => {
    const project = makeProject(CONFIG);
    const env = { TQ_WEB_TOKENS: ADMIN };
    const headers = { authorization: 'Bearer bulk-admin-secret-0123456789', 'content-type': 'application/json' };
    const web = stopAfterTest(project.spawn(['web', '--port', '0'], { env }));
    await web.waitFor(/listening on (http:\/\/\S+)/);
    const url = /listening on (http:\/\/\S+)/.exec(web.output)![1]!;

    // 1,200 failed runs: one bulk enqueue, a worker that fails them fast.
    const payloads = Array.from({ length: RUNS }, (_, i) => ({ task: 'fail', payload: { n: String(i) } }));
    const queue = bullQueue(project, 'default');
    try {
      const { Producer } = await import('../../src/queue/index.js');
      const { loadConfig } = await import('../../src/config/index.js');
      const config = await loadConfig(project.file('tasks.config.ts'));
      const producer = await Producer.connect(config, { redisUrl: project.redisUrl, prefix: project.prefix });
      await producer.enqueueMany(payloads);
      await producer.close();
      const worker = stopAfterTest(project.spawn(['worker', '-c', '50', '-n', 'bulk-worker']));
      await eventually(async () => (await queue.getFailedCount()) === RUNS, 60_000, 'all runs failed');
      await worker.stop();
      // The server's history has them all as failed.
      const runs = async (q: string) =>
        (await fetch(`${url}/api/runs?q=${encodeURIComponent(q)}&limit=1`, { headers })).json() as Promise<{ runs: unknown[] }>;
      await eventually(
        async () => {
          const r = await fetch(`${url}/api/runs/bulk/retry`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ q: 'state:failed task:fail', dryRun: true }),
          });
          return ((await r.json()) as { matched: number }).matched === RUNS;
        },
        30_000,
        'history has every failure',
      );
      expect((await runs('state:failed')).runs).toHaveLength(1);

      const dry: any = await (
        await fetch(`${url}/api/runs/bulk/retry`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ q: 'state:failed task:fail', dryRun: true }),
        })
      ).json();
      expect(dry).toMatchObject({ action: 'retry', dryRun: true, matched: RUNS });
      expect(dry.sample).toHaveLength(10);
      expect(dry.sample[0]).toMatchObject({ task: 'fail', state: 'failed' });
      // A dry run changes nothing.
      expect(await queue.getFailedCount()).toBe(RUNS);

      // Progress arrives on the event stream while the real run works through its chunks.
      const controller = new AbortController();
      const progress: { done: number; total: number }[] = [];
      const events = await fetch(`${url}/api/events`, { headers, signal: controller.signal });
      const reading = (async () => {
        const decoder = new TextDecoder();
        let buffer = '';
        try {
          for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            for (const m of buffer.matchAll(/event: bulk\ndata: (.*)\n\n/g)) progress.push(JSON.parse(m[1]!));
            buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
          }
        } catch {
          // aborted
        }
      })();

      const real: any = await (
        await fetch(`${url}/api/runs/bulk/retry`, { method: 'POST', headers, body: JSON.stringify({ q: 'state:failed task:fail' }) })
      ).json();
      expect(real).toMatchObject({ action: 'retry', dryRun: false, matched: RUNS, done: RUNS, skipped: 0, chunks: 3, errors: [] });
      await eventually(() => progress.length >= 3, 10_000, 'three progress events');
      expect(progress.map((p) => p.done)).toEqual([500, 1000, 1200]);
      expect(progress.every((p) => p.total === RUNS)).toBe(true);
      controller.abort();
      await reading;

      // Every run is waiting again in Redis, and the audit says who did it.
      expect(await queue.getFailedCount()).toBe(0);
      expect(await queue.getWaitingCount()).toBe(RUNS);
      const audit: any = await (await fetch(`${url}/api/audit?action=bulk-retry`, { headers })).json();
      expect(audit.entries).toHaveLength(1);
      expect(audit.entries[0]).toMatchObject({
        who: 'ops',
        role: 'admin',
        action: 'bulk-retry',
        query: 'state:failed task:fail',
        result: 'ok',
      });
      expect(audit.entries[0].detail).toMatchObject({ matched: RUNS, retried: RUNS, chunks: 3 });
      const rows = query<{ n: number }>(project.dbFile, "SELECT count(*) AS n FROM audit WHERE action = 'bulk-retry'");
      expect(rows[0]!.n).toBe(1);
    } finally {
      await queue.close();
    }
  }, 120_000);
});
