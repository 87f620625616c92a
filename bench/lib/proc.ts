/** Child processes for the benchmark: scripts that report JSON, timed commands, workers. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (bench/lib -> ../..; dist-bench/lib -> ../.. as well). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TQ_BIN = path.join(ROOT, 'bin', 'tq');

/** A compiled benchmark script next to this one (`baseline/worker.js`, `tq/producer.js`, ...). */
export function benchScript(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
}

function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  // No colour, no debug, and nothing the caller's shell set for tq (TQ_REDIS_URL etc.).
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TQ_')) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs `node script '<json args>'` and parses the last line it prints as JSON. */
export function runJson<T>(script: string, args: unknown, options: SpawnOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), script, JSON.stringify(args)], {
      cwd: options.cwd ?? ROOT,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${path.basename(script)} exited ${code}: ${stderr.trim() || stdout.trim()}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${path.basename(script)} printed no JSON result: ${stdout.trim()} ${stderr.trim()}`));
      }
    });
  });
}

/** Wall time of a fresh process from spawn to exit, ms; fails unless it exits 0. */
export function timeProcess(args: string[], options: SpawnOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...args], {
      cwd: options.cwd ?? ROOT,
      env: childEnv(options.env),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`node ${args.map((a) => path.basename(a)).join(' ')} exited ${code}: ${stderr.trim()}`));
      else resolve(ms);
    });
  });
}

export interface Memory {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size over the process's life (VmHWM), bytes. */
  peak: number;
}

/** RSS of a live process from /proc (Linux; NaN elsewhere). */
export function processMemory(pid: number): Memory {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux architecture Node supports

/** CPU time (user + system) of a live process from /proc/PID/stat, ms. */
export function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing paren).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

export interface LongRunning {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it wrote so far (stdout and stderr go to one log file). */
  log(): string;
  memory(): Memory;
  /** CPU time (user + system) the process has used so far, ms (Linux; NaN elsewhere). */
  cpuMs(): number;
  /** SIGTERM, and SIGKILL when it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts a long-running node process (a worker) with its output in `logFile`, and resolves
 * once a line of its log matches `ready`.
 */
export async function startProcess(
  args: string[],
  options: SpawnOptions & { logFile: string; ready: RegExp; timeoutMs?: number },
): Promise<LongRunning> {
  const fd = fs.openSync(options.logFile, 'w');
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...args], {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const log = () => fs.readFileSync(options.logFile, 'utf8');
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (options.ready.test(log())) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `${args.map((a) => path.basename(a)).join(' ')} did not become ready (exit ${child.exitCode}): ${log().trim().slice(-2000)}`,
      );
    }
    await sleep(20);
  }
  return {
    pid: child.pid!,
    child,
    log,
    memory: () => processMemory(child.pid!),
    cpuMs: () => processCpuMs(child.pid!),
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns a value other than undefined. */
export async function until<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs: number,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}
