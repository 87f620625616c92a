import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pollUntil } from '../../src/core/async.js';
import { freePort, redisAnswers } from '../../src/queue/local-redis.js';
import { trackProcess } from './processes.js';

export interface TestCluster {
  /** `redis+cluster://[:password@]127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  url: string;
  password?: string;
  ports: number[];
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster of the test's own: `masters` redis-servers with `--cluster-enabled
 * yes` on free ports in temp dirs, joined by `redis-cli --cluster create` (no replicas), and
 * waits until every node says `cluster_state:ok`; with `password`, every node requires it.
 * Start one per test file (`beforeAll`) and give each test its own hash-tagged prefix.
 */
export async function startRedisCluster(options: { masters?: number; password?: string } = {}): Promise<TestCluster> {
  const count = options.masters ?? 3;
  const auth = options.password ? ['-a', options.password, '--no-auth-warning'] : [];
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await exited;
      }),
    );
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-cluster-'));
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
          '--save',
          '',
          '--appendonly',
          'no',
          '--logfile',
          'redis.log',
          ...(options.password ? ['--requirepass', options.password, '--masterauth', options.password] : []),
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
      ports.push(port);
      trackProcess({
        name: `redis-server --cluster-enabled --port ${port} (pid ${child.pid})`,
        running: () => child.exitCode === null && child.signalCode === null,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        },
      });
      const nodeUrl = `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`;
      const up = await pollUntil(async () => ((await redisAnswers(nodeUrl, 500)) ? true : undefined), {
        intervalMs: 25,
        timeoutMs: 10_000,
      });
      if (!up) throw new Error(`cluster node on ${port} did not start (log in ${dir})`);
    }
    const created = spawnSync(
      'redis-cli',
      [...auth, '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    const ok = await pollUntil(
      async () => {
        for (const port of ports) {
          const info = spawnSync('redis-cli', [...auth, '-p', String(port), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
          if (!/cluster_state:ok/.test(info)) return undefined;
        }
        return true;
      },
      { intervalMs: 100, timeoutMs: 20_000 },
    );
    if (!ok) throw new Error('the test cluster did not reach cluster_state:ok');
  } catch (err) {
    await stop();
    throw err;
  }
  const credentials = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  const url = `redis+cluster://${credentials}${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  return options.password ? { url, password: options.password, ports, stop } : { url, ports, stop };
}
