import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { inject, onTestFinished } from 'vitest';
import { trackProcess } from './processes.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TQ_BIN = path.join(ROOT, 'bin', 'tq');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A throwaway project: a temp dir with a config, its own prefix and database. */
export interface TestProject {
  dir: string;
  prefix: string;
  redisUrl: string;
  env: Record<string, string>;
  dbFile: string;
  /** Runs `tq ...args` to completion. */
  run(args: string[], options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult>;
  /** Starts `tq ...args` in the background. */
  spawn(args: string[], options?: { env?: Record<string, string> }): TqProcess;
  file(name: string): string;
}

export function makeProject(configSource: string, options: { redisUrl?: string; prefix?: string } = {}): TestProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-test-'));
  fs.writeFileSync(path.join(dir, 'tasks.config.ts'), configSource);
  const prefix = options.prefix ?? `t${randomBytes(4).toString('hex')}`;
  const redisUrl = options.redisUrl ?? inject('redisUrl');
  // The default file of the project's prefix (`.tq/<prefix>.db`).
  const dbFile = path.join(dir, '.tq', `${prefix}.db`);
  const env = { TQ_REDIS_URL: redisUrl, TQ_PREFIX: prefix, NO_COLOR: '1' };
  const project: TestProject = {
    dir,
    prefix,
    redisUrl,
    env,
    dbFile,
    run: (args, o = {}) => runTq(args, { cwd: dir, env: { ...env, ...o.env }, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) }),
    spawn: (args, o = {}) => spawnTq(args, { cwd: dir, env: { ...env, ...o.env } }),
    file: (name) => path.join(dir, name),
  };
  return project;
}

export function runTq(args: string[], options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TQ_BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, TQ_DEBUG: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackProcess({
      name: `tq ${args.join(' ')} (pid ${child.pid})`,
      running: () => child.exitCode === null && child.signalCode === null,
      stop: async () => {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('close', r));
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tq ${args.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A background tq process whose output can be awaited line by line. */
export class TqProcess {
  output = '';
  readonly exited: Promise<number | null>;
  private waiters: { re: RegExp; resolve: () => void }[] = [];

  constructor(readonly child: ChildProcess) {
    const onData = (d: Buffer) => {
      this.output += d.toString();
      this.waiters = this.waiters.filter((w) => {
        if (w.re.test(this.output)) {
          w.resolve();
          return false;
        }
        return true;
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    trackProcess({
      name: `tq ${child.spawnargs.slice(2).join(' ')} (pid ${child.pid})`,
      running: () => child.exitCode === null && child.signalCode === null,
      stop: () => this.stop(),
    });
  }

  /** Resolves when the combined output matches `re` (already or later). */
  waitFor(re: RegExp, timeoutMs = 30_000): Promise<void> {
    if (re.test(this.output)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output so far:\n${this.output}`)), timeoutMs);
      this.waiters.push({
        re,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        if (!re.test(this.output)) reject(new Error(`process exited (${code}) before ${re}; output:\n${this.output}`));
      });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null) this.child.kill(signal);
  }

  async stop(): Promise<number | null> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), 20_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

export function spawnTq(args: string[], options: { cwd: string; env?: Record<string, string> }): TqProcess {
  const child = spawn(process.execPath, [TQ_BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, TQ_DEBUG: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new TqProcess(child);
}

/**
 * Stops `process` when the current test ends, pass or fail (call it inside a test, where the
 * process is started). The leak guard fails a test that leaves a process running otherwise.
 */
export function stopAfterTest<T extends { stop(): Promise<unknown> }>(process: T): T {
  onTestFinished(async () => {
    await process.stop();
  });
  return process;
}
