import type { ChalkInstance } from 'chalk';
import { formatDuration } from '../core/duration.js';
import type { RunEvent } from '../core/run-events.js';
import { clock, oneLine, shortId } from './output.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface WorkerLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  /** One line per run transition. */
  event(event: RunEvent): void;
  /** Writes out the lines still held (they go out once per tick on their own). */
  flush(): void;
}

/** How long log lines wait for company, and how much text is written at once at most. */
const LOG_BATCH_MS = 20;
const LOG_BATCH_CHARS = 64 * 1024;

/**
 * Collects lines and writes them together, at most LOG_BATCH_MS later: a busy worker logs
 * thousands of runs a second, and one write (a system call on a file, pipe or terminal) per line
 * costs it more than the runs themselves. Whatever is held is written when the process exits.
 */
function batched(write: (text: string) => void): { line: (l: string) => void; flush: () => void } {
  let pending: string[] = [];
  let chars = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join('\n');
    pending = [];
    chars = 0;
    write(text);
  };
  process.once('exit', flush);
  return {
    line(l) {
      pending.push(l);
      chars += l.length + 1;
      if (chars >= LOG_BATCH_CHARS) flush();
      else timer ??= setTimeout(flush, LOG_BATCH_MS);
    },
    flush,
  };
}

/**
 * Worker log lines: `[14:02:11] resize[8f2c1a] succeeded in 0.21s -> {...}` as text, or one JSON
 * object per line (`--log-format json`) for log shippers.
 */
export function createWorkerLogger(options: {
  level: LogLevel;
  format: 'text' | 'json';
  color: ChalkInstance;
  write: (line: string) => void;
  /** Write the lines of one tick together (a busy worker's log); off: each line at once. */
  batch?: boolean;
}): WorkerLogger {
  const { color } = options;
  const out = options.batch ? batched(options.write) : { line: options.write, flush: () => undefined };
  const write = out.line;
  const min = LEVELS[options.level];
  const line = (level: LogLevel, message: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[level] < min) return;
    if (options.format === 'json') {
      write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields }));
      return;
    }
    const tag = level === 'warn' ? color.yellow('warning: ') : level === 'error' ? color.red('error: ') : '';
    write(`${stamp()} ${tag}${message}`);
  };
  // The `[hh:mm:ss]` prefix, formatted once per second (a busy worker logs thousands a second).
  let stampSecond = -1;
  let stampText = '';
  const stamp = (): string => {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== stampSecond) {
      stampSecond = second;
      stampText = color.dim(`[${clock(new Date(now))}]`);
    }
    return stampText;
  };
  return {
    info: (m) => line('info', m),
    warn: (m) => line('warn', m),
    error: (m) => line('error', m),
    debug: (m) => line('debug', m),
    flush: out.flush,
    event(e) {
      if ((e.type === 'active' || e.type === 'delayed' || e.type === 'progress') && LEVELS.debug < min) return;
      const name = `${e.task}[${shortId(e.jobId)}]`;
      const fields = {
        event: e.type,
        task: e.task,
        id: e.jobId,
        queue: e.queue,
        attempt: e.attempt,
        ...(e.runtimeMs !== undefined ? { runtimeMs: e.runtimeMs } : {}),
      };
      switch (e.type) {
        case 'active':
          line('debug', `${name} started (attempt ${e.attempt})`, fields);
          break;
        case 'completed':
          line('info', `${name} ${color.green('succeeded')} in ${formatDuration(e.runtimeMs ?? 0)} -> ${oneLine(e.result)}`, {
            ...fields,
            result: e.result,
          });
          break;
        case 'retrying':
          line('warn', `${name} attempt ${e.attempt} failed, will retry: ${e.error ?? ''}`, { ...fields, error: e.error });
          break;
        case 'failed':
          line('error', `${name} ${color.red('failed')} after ${formatDuration(e.runtimeMs ?? 0)}: ${e.error ?? ''}`, {
            ...fields,
            error: e.error,
          });
          break;
        case 'requeued':
          line('warn', `${name} handed back to queue "${e.queue}" (shutdown timeout)`, fields);
          break;
        case 'progress':
          // ctx.progress() can be called many times a run: detail for debugging, not a run's line.
          line('debug', `${name} progress ${oneLine(e.progress, 40)}`, { ...fields, progress: e.progress });
          break;
        case 'delayed':
          line('debug', `${name} put back until ${new Date(e.dueAt ?? 0).toISOString()}`, fields);
          break;
        default:
          line('info', `${name} ${e.type}`, fields);
      }
    },
  };
}
