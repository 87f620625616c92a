import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { makeProject, stopAfterTest } from '../helpers/cli.js';
import { eventually } from '../helpers/project.js';
import { startRedisSentinel, type TestSentinel } from '../helpers/redis-sentinel.js';

/**
 * A primary, a replica and three sentinels; the primary is SIGKILLed while a producer, a worker
 * and beat are busy. Prints the figures the README and RELIABILITY.md quote.
 */
let sentinel: TestSentinel;
beforeAll(async () => {
  // The data nodes require a password (the sentinels do not): the URL's password reaches the primary.
  sentinel = await startRedisSentinel({ password: 'sent1nel-pw' });
});
afterAll(async () => {
  await sentinel?.stop();
});

const config = `import fs from 'node:fs';
import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  tasks: {
    count: defineTask({
      run: async (_p: Record<string, unknown>, ctx) => {
        fs.appendFileSync('runs.log', ctx.id + '\\n');
        return 'ok';
      },
    }),
  },
  schedules: { tick: { task: 'count', every: '1s' } },
});
`;

describe('Sentinel failover', () => {
  it('the primary dies mid-load: a replica is promoted and the worker, beat and producers carry on', async () => {
    const project = makeProject(config, { redisUrl: sentinel.url, prefix: `s${randomBytes(4).toString('hex')}` });
    const worker = stopAfterTest(project.spawn(['worker', '--concurrency', '4', '-n', 'sw1']));
    const beat = stopAfterTest(project.spawn(['beat']));
    await worker.waitFor(/tq worker sw1 ready/);
    await beat.waitFor(/tq beat ready/);
    const doctorRedis = async () => {
      const res = await project.run(['doctor', '--json']);
      return (JSON.parse(res.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === 'redis');
    };
    expect(await doctorRedis()).toEqual({
      name: 'redis',
      ok: true,
      detail: expect.stringMatching(new RegExp(`sentinel-managed primary 127\\.0\\.0\\.1:${sentinel.primaryPort} with 1 replica`)),
    });

    const client = createClient(project.file('tasks.config.ts'), { redis: sentinel.url, prefix: project.prefix });
    const acknowledged: string[] = [];
    let refused = 0;
    let killedAt = 0;
    let firstAfterFailover = 0;
    const started = Date.now();
    try {
      while (Date.now() - started < 9000) {
        if (!killedAt && Date.now() - started > 2500) {
          sentinel.killPrimary();
          killedAt = Date.now();
        }
        try {
          const run = await client.enqueue('count', {});
          acknowledged.push(run.id);
          if (killedAt && !firstAfterFailover) firstAfterFailover = Date.now();
        } catch {
          refused++;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await client.close();
    }
    expect(sentinel.currentPrimaryPort()).toBe(sentinel.replicaPort);
    expect(firstAfterFailover).toBeGreaterThan(killedAt);

    // Wait until every acknowledged run has run (or stop waiting after 20 s: those are lost).
    const ran = () => (fs.existsSync(project.file('runs.log')) ? fs.readFileSync(project.file('runs.log'), 'utf8').trim().split('\n') : []);
    await eventually(() => acknowledged.every((id) => ran().includes(id)), 20_000, 'every acknowledged run to run').catch(() => undefined);
    const lines = ran();
    const counts = new Map<string, number>();
    for (const id of lines) counts.set(id, (counts.get(id) ?? 0) + 1);
    const lost = acknowledged.filter((id) => !counts.has(id));
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    const beatRunsAfter = lines.filter((id) => id.startsWith('beat-tick-') && Number(id.slice('beat-tick-'.length)) > killedAt + 1000);
    console.log(
      `sentinel failover: ${acknowledged.length} enqueues acknowledged, ${refused} refused while no primary ` +
        `(${firstAfterFailover - killedAt} ms from kill to the first enqueue accepted), ${lost.length} lost, ${duplicated} run twice; ` +
        `beat runs after the failover: ${beatRunsAfter.length}`,
    );
    expect(worker.child.exitCode).toBeNull();
    expect(beat.child.exitCode).toBeNull();
    expect(beatRunsAfter.length).toBeGreaterThan(0);
    // Runs acknowledged after the new primary took over all ran.
    const afterIndex = acknowledged.length - 20;
    expect(acknowledged.slice(afterIndex).every((id) => counts.has(id))).toBe(true);
    expect(worker.output).toMatch(/Redis connection lost/);
    expect(worker.output + beat.output).not.toContain('sent1nel-pw');
    // The promoted replica has no replica of its own: doctor says a next failover has nothing to promote.
    expect(await doctorRedis()).toMatchObject({
      ok: false,
      detail: expect.stringMatching(new RegExp(`primary 127\\.0\\.0\\.1:${sentinel.replicaPort} with 0 replica.*nothing to promote`)),
    });
  });
});
