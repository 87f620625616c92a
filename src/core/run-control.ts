import { RunAborted } from './run-outcome.js';

const isShutdown = (reason: unknown) => reason instanceof RunAborted && reason.reason === 'Shutdown';

/**
 * How a run is aborted (time limit, cancel, shutdown). Its AbortSignal is created only when the
 * handler (or an isolated runner) asks for it; `race` ends the run at once on an abort other
 * than a shutdown's, whether or not the handler listens. A shutdown aborts the signal only: the
 * run is handed back to its queue, not ended here.
 */
export class RunControl {
  private controller: AbortController | undefined;
  private reject: ((reason: unknown) => void) | undefined;
  private aborted = false;
  private reason: unknown;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private handlerSettled = false;

  /** The handler's promise has settled (a handler that has not after an abort is a zombie). */
  get settled(): boolean {
    return this.handlerSettled;
  }

  /** The run's signal, made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Aborts with `reason()` after `ms` unless the run ended first (`end()` clears the timer). */
  abortAfter(ms: number, reason: () => RunAborted): void {
    this.timer = setTimeout(() => this.abort(reason()), ms);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    if (!isShutdown(reason)) this.reject?.(reason);
  }

  /** Settles with `done`, or rejects with the abort reason as soon as the run is aborted. */
  race<T>(done: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.reject = reject;
      done.then(
        (value) => {
          this.handlerSettled = true;
          resolve(value);
        },
        (err: unknown) => {
          this.handlerSettled = true;
          reject(err);
        },
      );
      if (this.aborted && !isShutdown(this.reason)) reject(this.reason);
    });
  }

  /** The run ended: its time limit no longer applies. */
  end(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Calls `run` now (not from a microtask, so a no-op run costs less); a synchronous throw rejects. */
export function callHandler<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err);
  }
}
