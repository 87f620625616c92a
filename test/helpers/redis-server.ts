import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pollUntil } from '../../src/core/async.js';
import { freePort, redisAnswers } from '../../src/queue/local-redis.js';
import { trackProcess } from './processes.js';

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Stops and starts the same server (same port, same data dir). */
  restart(): Promise<void>;
}

export { freePort };

const answers = (port: number) => redisAnswers(`redis://127.0.0.1:${port}`, 500);

/**
 * Starts a redis-server of the test's own on a free port (never the shared 6379), in a temp
 * dir; `appendonly` for tests that restart it and expect the data back; `args` for more
 * settings (`['--maxmemory', '8mb', '--maxmemory-policy', 'allkeys-lru']`).
 */
export async function startRedis(
  options: { appendonly?: boolean; port?: number; dir?: string; args?: readonly string[] } = {},
): Promise<TestRedis> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tq-redis-'));
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        options.appendonly ? 'yes' : 'no',
        '--appendfsync',
        'always',
        '--logfile',
        'redis.log',
        ...(options.args ?? []),
      ],
      { stdio: 'ignore' },
    );
    const started = child;
    const up = await pollUntil(async () => ((await answers(port)) ? true : started.exitCode !== null ? false : undefined), {
      intervalMs: 25,
      timeoutMs: 10_000,
    });
    if (!up) throw new Error(`redis-server on ${port} did not start (log in ${dir})`);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  await launch();
  trackProcess({
    name: `redis-server --port ${port} (pid ${child?.pid})`,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    stop,
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}
