import { errorMessage, FatalTaskError } from '../core/errors.js';

/**
 * A worker process runs other people's code. Three things in that code can end the process
 * without a word and take every run in it down (and, once recovered, the next worker too):
 * `process.exit()`, an exception thrown from a timer or an event handler (uncaught), and a
 * promise rejection nobody handles (Node ends the process for it by default).
 *
 * While installed, the guard turns them into something a worker can answer:
 * - `process.exit(code)` throws `HandlerExitError` at the caller. Called from a handler (its
 *   synchronous part or an `await` continuation), that fails the handler's run, final, with
 *   the reason, and the worker goes on. Called from a timer, the throw is uncaught: see below.
 * - An uncaught exception cannot be recovered safely (Node's own advice): `onFatal` is called
 *   once, which is expected to hand the runs in progress back, flush history, log one line and
 *   end the process with a non-zero code. A second one while that runs ends the process at once.
 * - An unhandled rejection leaves the process intact: one warning line per distinct reason and
 *   the worker goes on (which run leaked it cannot be known without tracing every promise).
 *
 * `install()` returns the function that puts everything back (on the worker's close), so tq's
 * own `process.exit` at the end of the CLI is the real one again.
 */
export class HandlerExitError extends FatalTaskError {
  constructor(readonly exitCode: number | string | null | undefined) {
    super(
      `the handler called process.exit(${exitCode ?? ''}), which would end the worker and every run in it; a handler fails its run by throwing`,
    );
  }
}

export interface ProcessGuardOptions {
  /** Called once for the first uncaught exception; should end the process (non-zero). */
  onFatal: (err: unknown) => Promise<void> | void;
  /** One line for an unhandled rejection. */
  warn: (line: string) => void;
}

/** The process's own exit, as it was before any guard: for the CLI's entry point, which alone may end the process. */
const realExit = process.exit.bind(process);

/** Ends the process with `code`, guard or no guard (only `cli/main` calls it). */
export function exitProcess(code: number): never {
  return realExit(code);
}

export function installProcessGuard(options: ProcessGuardOptions): () => void {
  let fatal = false;
  const exit = ((code?: number | string | null) => {
    throw new HandlerExitError(code);
  }) as typeof process.exit;
  const warned = new Set<string>();
  const onUncaught = (err: unknown) => {
    if (fatal) {
      // The fatal path itself failed, or a second crash came in while it ran: leave now.
      process.stderr.write(`tq: second uncaught exception while ending (${errorMessage(err)}); exiting at once\n`);
      realExit(1);
      return;
    }
    fatal = true;
    process.exit = realExit;
    void Promise.resolve()
      .then(() => options.onFatal(err))
      .catch((fatalErr: unknown) => {
        process.stderr.write(`tq: could not end cleanly (${errorMessage(fatalErr)})\n`);
      })
      .finally(() => realExit(1));
  };
  const onRejection = (reason: unknown) => {
    const text = errorMessage(reason);
    if (warned.has(text)) return;
    if (warned.size < 100) warned.add(text);
    options.warn(
      `unhandled promise rejection (${text}): a handler started a promise it neither awaited nor caught; the worker goes on, the run that leaked it is not failed for it`,
    );
  };
  process.exit = exit;
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  return () => {
    if (process.exit === exit) process.exit = realExit;
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  };
}
