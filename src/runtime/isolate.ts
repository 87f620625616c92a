import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig, Settings } from '../config/index.js';
import type { IsolatedRun } from '../queue/index.js';

/** Messages between a worker and the child process that runs one isolated handler. */
export type ToChild = {
  type: 'run';
  configFile: string;
  settings: Pick<Settings, 'dbFile' | 'redisUrl' | 'prefix'>;
  task: string;
  payload: unknown;
  ctx: { id: string; name: string; queue: string; attempt: number };
};
export type FromChild =
  | { type: 'progress'; value: number | Record<string, unknown> }
  | { type: 'log'; line: string }
  | { type: 'result'; value: unknown }
  | { type: 'error'; name: string; message: string; stack?: string };

const CHILD_ENTRY = fileURLToPath(new URL('./isolate-child.js', import.meta.url));

/**
 * `isolate: true`: each run's handler executes in a child process of its own, which tq kills
 * with SIGKILL when the run's signal aborts (time limit, cancel, shutdown). A handler stuck in
 * a CPU loop or a native call cannot outlive its time limit that way. The child re-loads the
 * config file to find the handler by name, so the config must be a file.
 */
export function isolatedRunner({ config, settings }: { config: ResolvedConfig; settings: Settings }): IsolatedRun {
  return ({ task, payload, ctx, signal }) =>
    new Promise((resolve, reject) => {
      if (!config.file) {
        reject(new Error('isolate: true needs the config to be loaded from a file'));
        return;
      }
      const child = fork(CHILD_ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', kill);
        fn();
      };
      const kill = () => {
        child.kill('SIGKILL');
        settle(() => reject(signal.reason));
      };
      if (signal.aborted) return kill();
      signal.addEventListener('abort', kill, { once: true });
      child.on('message', (message: FromChild) => {
        switch (message.type) {
          case 'progress':
            void ctx.progress(message.value).catch(() => undefined);
            break;
          case 'log':
            void ctx.log(message.line).catch(() => undefined);
            break;
          case 'result':
            settle(() => resolve(message.value));
            break;
          case 'error': {
            const err = new Error(message.message);
            err.name = message.name;
            if (message.stack) err.stack = message.stack;
            settle(() => reject(err));
            break;
          }
        }
      });
      child.on('error', (err) => settle(() => reject(err)));
      child.on('exit', (code, sig) =>
        settle(() => reject(new Error(`isolated handler process exited (${sig ?? `code ${code}`}) without a result`))),
      );
      const request: ToChild = {
        type: 'run',
        configFile: config.file,
        settings: { dbFile: settings.dbFile, redisUrl: settings.redisUrl, prefix: settings.prefix },
        task,
        payload,
        ctx: { id: ctx.id, name: ctx.name, queue: ctx.queue, attempt: ctx.attempt },
      };
      child.send(request);
    });
}
