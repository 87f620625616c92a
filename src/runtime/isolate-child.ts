/**
 * Entry point of the child process that runs one isolated handler (see isolate.ts). It loads the
 * config, runs the handler with a context whose progress and log go to the parent, reports the
 * result or the error, and exits. The parent SIGKILLs it at the time limit.
 */
import { loadConfig } from '../config/index.js';
import { errorMessage } from '../core/errors.js';
import { createRunContext } from '../core/run-context.js';
import { Producer } from '../queue/index.js';
import { openStore } from '../store/index.js';
import type { FromChild, ToChild } from './isolate.js';

const send = (message: FromChild) =>
  new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });

process.once('message', (request: ToChild) => {
  void run(request).finally(() => {
    process.disconnect?.();
    process.exit(0);
  });
});

async function run(request: ToChild): Promise<void> {
  let store: ReturnType<typeof openStore> | undefined;
  let producer: Promise<Producer> | undefined;
  try {
    const config = await loadConfig(request.configFile);
    const task = config.tasks.get(request.task);
    if (!task) throw new Error(`task "${request.task}" is not in ${request.configFile} any more`);
    store = openStore(request.settings.dbFile, { prefix: request.settings.prefix });
    // The parent kills this process on abort: the signal here never fires, but handlers may read it.
    const controller = new AbortController();
    const { ctx, end } = createRunContext({
      ...request.ctx,
      signal: () => controller.signal,
      db: store.records,
      media: config.mediaDir,
      logger: { info: (m) => process.stdout.write(`${m}\n`), warn: (m) => process.stderr.write(`warning: ${m}\n`) },
      // The parent's context throttles what it writes; every value goes to it as reported.
      progressIntervalMs: 0,
      sinks: {
        progress: (value) => send({ type: 'progress', value }),
        log: (line) => send({ type: 'log', line }),
        enqueue: async (name, payload, opts) => {
          producer ??= Producer.connect(config, { redisUrl: request.settings.redisUrl, prefix: request.settings.prefix });
          const run = await (await producer).enqueue(name, payload, opts);
          return { id: run.id };
        },
      },
    });
    let value: unknown;
    try {
      value = await task.definition.run(request.payload, ctx);
    } finally {
      end();
    }
    await send({ type: 'result', value: value === undefined ? null : value });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(errorMessage(err));
    await send({ type: 'error', name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) });
  } finally {
    store?.close();
    if (producer) await (await producer.catch(() => undefined))?.close();
  }
}
