import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pollUntil } from '../../src/core/async.js';
import { freePort, redisAnswers } from '../../src/queue/local-redis.js';
import { trackProcess } from './processes.js';

export interface TestSentinel {
  /** `redis+sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/<name>` */
  url: string;
  name: string;
  primaryPort: number;
  replicaPort: number;
  sentinelPorts: number[];
  /** SIGKILLs the primary (no shutdown save, no goodbye to the replica). */
  killPrimary(): void;
  /** The port the sentinels name as primary now. */
  currentPrimaryPort(): number | undefined;
  stop(): Promise<void>;
}

function redisCli(port: number, ...args: string[]): string {
  // Sentinels here have no password of their own; data nodes get theirs through `args`.
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 }).stdout ?? '';
}

/**
 * A Sentinel set-up of the test's own: a primary, one replica and three sentinels (quorum 2,
 * down after 1 s), all on free ports in temp dirs. Sentinels run as `redis-server <conf>
 * --sentinel`, so the separate redis-sentinel package is not needed.
 */
export async function startRedisSentinel(options: { name?: string; password?: string } = {}): Promise<TestSentinel> {
  const name = options.name ?? 'tqprimary';
  const password = options.password;
  const auth = password ? ['-a', password, '--no-auth-warning'] : [];
  const children: ChildProcess[] = [];
  const launch = (args: string[], what: string, dir: string) => {
    const child = spawn('redis-server', args, { stdio: 'ignore', cwd: dir });
    children.push(child);
    trackProcess({
      name: `${what} (pid ${child.pid})`,
      running: () => child.exitCode === null && child.signalCode === null,
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      },
    });
    return child;
  };
  const waitUp = async (port: number, secret = '') => {
    const up = await pollUntil(async () => ((await redisAnswers(`redis://${secret}127.0.0.1:${port}`, 500)) ? true : undefined), {
      intervalMs: 25,
      timeoutMs: 10_000,
    });
    if (!up) throw new Error(`redis on ${port} did not start`);
  };
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
  const dataArgs = (port: number, dir: string) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--logfile',
    'redis.log',
    ...(password ? ['--requirepass', password, '--masterauth', password] : []),
  ];
  try {
    const primaryPort = await freePort();
    const primaryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-sentinel-primary-'));
    const primary = launch(dataArgs(primaryPort, primaryDir), `redis-server primary --port ${primaryPort}`, primaryDir);
    const dataSecret = password ? `:${encodeURIComponent(password)}@` : '';
    await waitUp(primaryPort, dataSecret);
    const replicaPort = await freePort();
    const replicaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-sentinel-replica-'));
    launch(
      [...dataArgs(replicaPort, replicaDir), '--replicaof', '127.0.0.1', String(primaryPort)],
      `redis-server replica --port ${replicaPort}`,
      replicaDir,
    );
    await waitUp(replicaPort, dataSecret);
    const synced = await pollUntil(
      async () => (/master_link_status:up/.test(redisCli(replicaPort, ...auth, 'info', 'replication')) ? true : undefined),
      {
        intervalMs: 50,
        timeoutMs: 10_000,
      },
    );
    if (!synced) throw new Error('the replica did not sync with the primary');
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-sentinel-'));
      const conf = path.join(dir, 'sentinel.conf');
      fs.writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          'logfile sentinel.log',
          `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          ...(password ? [`sentinel auth-pass ${name} ${password}`] : []),
          '',
        ].join('\n'),
      );
      launch([conf, '--sentinel'], `redis-sentinel --port ${port}`, dir);
      sentinelPorts.push(port);
      await waitUp(port);
    }
    // Every sentinel has found the replica and the other sentinels before the test may fail over.
    const ready = await pollUntil(
      async () => {
        for (const port of sentinelPorts) {
          const info = redisCli(port, 'sentinel', 'master', name);
          const field = (key: string) => Number(new RegExp(`${key}\\n(\\d+)`).exec(info)?.[1] ?? 0);
          if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return undefined;
        }
        return true;
      },
      { intervalMs: 100, timeoutMs: 20_000 },
    );
    if (!ready) throw new Error('the sentinels did not find the replica and each other');
    return {
      url: `redis+sentinel://${dataSecret}${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${name}`,
      name,
      primaryPort,
      replicaPort,
      sentinelPorts,
      killPrimary: () => primary.kill('SIGKILL'),
      currentPrimaryPort: () => {
        const reply = redisCli(sentinelPorts[0]!, 'sentinel', 'get-master-addr-by-name', name).trim().split('\n');
        return reply[1] ? Number(reply[1]) : undefined;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
