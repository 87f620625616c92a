import type { SignalHub } from './context.js';

/** A second SIGINT/SIGTERM during shutdown: leave now. */
export class ForcedExit extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal} again: exiting at once`);
  }
}

/** SIGINT/SIGTERM for the whole CLI: the first goes to the command's handlers, a second forces the exit; with no handler, the first one does. */
export function createSignalHub(exit: (code: number) => void): SignalHub {
  const handlers: ((signal: NodeJS.Signals) => void)[] = [];
  let rejectForced: (err: ForcedExit) => void = () => undefined;
  const forced = new Promise<never>((_, reject) => {
    rejectForced = reject;
  });
  forced.catch(() => undefined);
  let count = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1 && handlers.length > 0) {
      for (const h of handlers) h(signal);
      return;
    }
    rejectForced(new ForcedExit(signal));
    // Nothing to stop: leave at once (the entry point does the exiting).
    if (handlers.length === 0) exit(130);
  };
  let installed = false;
  return {
    onStop(handler) {
      handlers.push(handler);
      if (!installed) {
        installed = true;
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      }
    },
    forced,
  };
}
