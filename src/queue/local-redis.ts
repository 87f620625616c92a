import { sleep } from '../core/async.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from './redis-client.js';
import { RuntimeError } from '../core/errors.js';

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Whether a Redis answers PING at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a private redis-server for `tq dev` / `tq demo`: bound to 127.0.0.1 on a free port,
 * data under `dir` with appendonly on (nothing is lost between runs), stopped by `stop()`.
 */
export async function startPrivateRedis(dir: string, options: { appendonly?: boolean } = {}): Promise<PrivateRedis> {
  const check = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (check.error || check.status !== 0) {
    throw new RuntimeError('E_NO_REDIS_SERVER', 'no Redis answers and redis-server is not installed', {
      hint: 'install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) or pass --redis URL',
    });
  }
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      path.resolve(dir),
      '--appendonly',
      options.appendonly === false ? 'no' : 'yes',
      '--save',
      '',
      '--logfile',
      'redis.log',
      '--daemonize',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(url, 500))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new RuntimeError('E_NO_REDIS_SERVER', `the private redis-server did not start (see ${path.join(dir, 'redis.log')})`);
    }
    await sleep(50);
  }
  return {
    url,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
