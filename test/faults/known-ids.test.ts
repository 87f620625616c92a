import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createClient, defineConfig, defineTask } from '../../src/index.js';
import { scheduleRunId } from '../../src/beat/run-id.js';
import { tqKeys } from '../../src/queue/keys.js';
import { makeProject, stopAfterTest, type TestProject } from '../helpers/cli.js';
import { bullQueue, runRow } from '../helpers/project.js';
import { report } from './helpers.js';

// `hello` records each execution, so a second run of an id shows.
const CONFIG = `
import fs from 'node:fs';
import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  worker: { lockDuration: '2s', stalledInterval: '1s', shutdownTimeout: '3s' },
  tasks: {
    hello: defineTask({
      run: async ({ name }: { name: string }, ctx) => {
        fs.appendFileSync('executions.log', ctx.id + '\\n');
        return 'hello ' + name;
      },
    }),
  },
  schedules: { hourly: { task: 'hello', every: '1h', payload: { name: 'beat' } } },
});
`;

/** Runs `id` to completion with the CLI, then removes it from Redis the way retention does. */
async function completedThenTrimmed(project: TestProject, id: string): Promise<void> {
  const worker = stopAfterTest(project.spawn(['worker']));
  await worker.waitFor(/ready/);
  const run = await project.run(['enqueue', 'hello', '--payload', '{"name":"first"}', '--id', id, '--wait']);
  expect(run.code, run.stderr).toBe(0);
  expect(await worker.stop()).toBe(0);
  const purge = await project.run(['control', 'purge', '--state', 'completed', '--yes']);
  expect(purge.code, purge.stderr).toBe(0);
  expect(runRow(project, id)).toMatchObject({ state: 'completed' });
}

describe('a run id that only history still knows is not run again', () => {
  it("by the client's enqueue(..., { id }), as by tq enqueue --id", async () => {
    const project = makeProject(CONFIG);
    await completedThenTrimmed(project, 'once-only');
    const queue = bullQueue(project, 'default');
    const tq = createClient(defineConfig({ tasks: { hello: defineTask({ run: async (p: { name: string }) => p.name }) } }), {
      redis: project.redisUrl,
      prefix: project.prefix,
      dir: project.dir,
      db: project.dbFile,
    });
    try {
      const run = await tq.enqueue('hello', { name: 'again' }, { id: 'once-only' });
      expect(run.existed).toBe(true);
      expect(await queue.getJob('once-only')).toBeUndefined();
      const cli = await project.run(['enqueue', 'hello', '--payload', '{"name":"again"}', '--id', 'once-only']);
      expect(cli.stderr).toMatch(/run once-only already exists \(completed\); nothing enqueued/);
    } finally {
      await tq.close();
      await queue.close();
    }
  }, 60_000);

  it('by a beat that recovers a claimed fire time whose run already completed and left Redis', async () => {
    const project = makeProject(CONFIG);
    const fireMs = Date.UTC(2025, 0, 1, 3);
    const id = scheduleRunId('hourly', fireMs);
    await completedThenTrimmed(project, id);
    // A beat claimed this fire time, enqueued it and died before confirming: its pending entry
    // is left, stamped long enough ago for another beat to take it over.
    const redis = new Redis(project.redisUrl);
    const queue = bullQueue(project, 'default');
    try {
      const pending = tqKeys(project.prefix).beatPending;
      await redis.zadd(pending, Date.now() - 60_000, JSON.stringify(['hourly', fireMs]));
      const beat = stopAfterTest(project.spawn(['beat']));
      await beat.waitFor(new RegExp(`run ${id} .*is already in history \\(completed\\); not enqueueing it again`), 20_000);
      expect(await redis.zcard(pending)).toBe(0);
      expect(await queue.getJob(id)).toBeUndefined();
      expect(await beat.stop()).toBe(0);
      report('beat recovering a claimed fire time whose run completed and was trimmed: not enqueued again (history checked first)');
    } finally {
      redis.disconnect();
      await queue.close();
    }
  }, 60_000);
});
