import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { makeProject, stopAfterTest } from '../helpers/cli.js';
import { appConfig, eventually, query } from '../helpers/project.js';
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js';

/**
 * Every tq command against a real 3-master Redis Cluster (one per file), each test with its own
 * hash-tagged prefix: what users of managed Redis in cluster mode run.
 */
const PASSWORD = 'cl/ust@r-pw';
let cluster: TestCluster;
beforeAll(async () => {
  // Password-protected: the cluster URL's credentials reach every node tq connects to.
  cluster = await startRedisCluster({ password: PASSWORD });
});
afterAll(async () => {
  await cluster?.stop();
});

const tagged = () => `{t${randomBytes(4).toString('hex')}}`;
const idOf = (stdout: string) => stdout.trim().split('\n').pop()!;

const beatConfig = `import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  tasks: { hello: defineTask({ args: ['name'], run: async ({ name }: { name: string }) => \`hello \${name}\` }) },
  schedules: { tick: { task: 'hello', every: '1s', payload: { name: 'tick' } } },
});
`;

describe('tq on a Redis Cluster', () => {
  it('worker, enqueue, inspect, control and monitor all work, and every key is under the prefix hash tag', async () => {
    const project = makeProject(appConfig(), { redisUrl: cluster.url, prefix: tagged() });
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default,slow', '-n', 'cw1', '-l', 'debug']));
    await worker.waitFor(/tq worker cw1 ready/);
    // The lock keeper's thread reaches the cluster too (it renews locks while the main thread is blocked).
    const clients = async () => {
      const names: string[] = [];
      for (const port of cluster.ports) {
        const node = new Redis({ host: '127.0.0.1', port, password: PASSWORD });
        try {
          names.push(...((await node.client('LIST')) as string).split('\n').map((l) => /(?:^| )name=(\S*)/.exec(l)?.[1] ?? ''));
        } finally {
          node.disconnect();
        }
      }
      return names;
    };
    await eventually(async () => (await clients()).includes('tq-lock-keeper'), 15_000, 'the lock keeper to connect');

    const waited = await project.run(['enqueue', 'hello', 'amy', '--wait', '--json']);
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.stdout)).toMatchObject({ task: 'hello', state: 'completed', result: 'hello amy' });

    // A long run, cancelled while active through the control channel (pub/sub on a cluster).
    const slowId = idOf((await project.run(['enqueue', 'slow', '20000'])).stdout);
    await worker.waitFor(new RegExp(`slow\\[${slowId.slice(-6)}\\] started`));
    const ping = await project.run(['inspect', 'workers', '--ping', '--json']);
    expect(ping.code).toBe(0);
    expect(JSON.parse(ping.stdout)).toMatchObject({ workers: [{ name: 'cw1', pingMs: expect.any(Number) }] });
    const cancel = await project.run(['control', 'cancel', slowId]);
    expect(cancel.code, cancel.stderr).toBe(0);
    await worker.waitFor(new RegExp(`slow\\[${slowId.slice(-6)}\\] cancelled`));

    // A failing run, then retry --failed, pause/resume and purge (BullMQ's multi-key scripts).
    const boomId = idOf((await project.run(['enqueue', 'boom'])).stdout);
    await worker.waitFor(new RegExp(`boom\\[${boomId.slice(-6)}\\] failed after`));
    expect((await project.run(['control', 'pause', 'default'])).code).toBe(0);
    expect((await project.run(['control', 'resume', 'default'])).code).toBe(0);
    const retried = await project.run(['control', 'retry', '--failed']);
    expect(retried.stdout).toMatch(/retried 1 failed run/);
    const purge = await project.run(['control', 'purge', 'default', '--state', 'completed', '--yes']);
    expect(purge.code, purge.stderr).toBe(0);

    const { queues } = JSON.parse((await project.run(['inspect', 'queues', '--json'])).stdout) as { queues: { name: string }[] };
    expect(queues.map((q) => q.name).sort()).toEqual(['default', 'images', 'slow']);
    const monitor = await project.run(['monitor', '--once']);
    expect(monitor.code, monitor.stderr).toBe(0);
    expect(monitor.stdout).toMatch(/cw1/);

    const doctor = await project.run(['doctor', '--json']);
    const checks = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks;
    expect(checks.find((c) => c.name === 'redis')).toMatchObject({ ok: true, detail: expect.stringMatching(/cluster of 3 master\(s\)/) });
    expect(checks.find((c) => c.name === 'hash-tag')).toMatchObject({ ok: true });
    expect(checks.find((c) => c.name === 'connections')!.detail).toMatch(/live workers need 9 \(cw1 9: 5 \+ 2 per queue each\) per master/);
    expect(doctor.stdout + doctor.stderr + worker.output).not.toContain(PASSWORD);

    const shutdown = await project.run(['control', 'shutdown', 'cw1']);
    expect(shutdown.code).toBe(0);
    expect(await worker.exited).toBe(0);

    // History reached SQLite through the run-event stream (XREAD on the cluster).
    const rows = await eventually(() => {
      const r = query<{ job_id: string; state: string }>(project.dbFile, 'SELECT job_id, state FROM task_runs');
      return r.find((row) => row.job_id === slowId && row.state === 'cancelled') ? r : undefined;
    });
    expect(rows.map((r) => r.state).sort()).toEqual(expect.arrayContaining(['completed', 'cancelled']));

    // Every key of this prefix, tq's and BullMQ's, lives on one node and in one slot.
    const redis = new Cluster(
      cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
      { redisOptions: { password: PASSWORD } },
    );
    try {
      await new Promise((resolve) => redis.once('ready', resolve));
      const found: string[] = [];
      for (const node of redis.nodes('master')) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${project.prefix}*`, 'COUNT', 1000);
          cursor = next;
          found.push(...keys);
        } while (cursor !== '0');
      }
      expect(found.some((k) => k.startsWith(`${project.prefix}::tq:`))).toBe(true);
      // No stray layout-1 key either.
      expect(found.filter((k) => k.includes(':_tq:'))).toEqual([]);
      const slots = new Set(await Promise.all(found.map((k) => redis.cluster('KEYSLOT', k))));
      expect(slots.size).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('beat and dev schedule and run on the cluster', async () => {
    const project = makeProject(beatConfig, { redisUrl: cluster.url, prefix: tagged() });
    const dev = stopAfterTest(project.spawn(['dev']));
    await dev.waitFor(/hello\[\w+\] succeeded .*hello tick/, 20_000);
    const schedule = await project.run(['inspect', 'schedule', '--json']);
    expect(schedule.code).toBe(0);
    expect(JSON.stringify(JSON.parse(schedule.stdout))).toMatch(/"tick"/);
  });

  it('a prefix without a hash tag is refused on a cluster (exit 2, one line), and no worker says ready', async () => {
    const project = makeProject(appConfig(), { redisUrl: cluster.url, prefix: 'plain' });
    for (const args of [['worker'], ['enqueue', 'hello', 'x'], ['inspect', 'queues']]) {
      const res = await project.run(args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/prefix "plain" has no hash tag, which a Redis Cluster needs .* --prefix "\{plain\}"/);
      expect(res.stdout).not.toMatch(/ready/);
    }
  });

  it('a cluster node reached by a plain redis:// URL: the worker refuses to start (exit 1, one line)', async () => {
    const project = makeProject(appConfig(), {
      redisUrl: `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${cluster.ports[0]}`,
      prefix: tagged(),
    });
    const res = await project.run(['worker']);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/this Redis is a cluster node, but the URL is for a single server .* redis\+cluster:\/\//);
    expect(res.stdout + res.stderr).not.toMatch(/ready/);
  });

  it('a cluster URL pointing at a server that is not a cluster: one line saying so, exit 1', async () => {
    const port = new URL(inject('redisUrl')).port;
    const project = makeProject(appConfig(), { redisUrl: `redis+cluster://127.0.0.1:${port}`, prefix: tagged() });
    const res = await project.run(['worker']);
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe(
      `tq: Redis at redis+cluster://127.0.0.1:${port} is not a cluster (ERR This instance has cluster support disabled) — use a single-server URL: redis://host:port (or redis+sentinel://... for Sentinel)`,
    );
  });

  it('the password of a cluster URL is never printed', async () => {
    const project = makeProject(appConfig(), { redisUrl: `redis+cluster://app:s3cret-pw@127.0.0.1:1,127.0.0.1:2`, prefix: tagged() });
    const res = await project.run(['enqueue', 'hello', 'x']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/redis\+cluster:\/\/app:\*\*\*@127\.0\.0\.1:1,127\.0\.0\.1:2/);
    expect(res.stderr).not.toContain('s3cret-pw');
  });
});
