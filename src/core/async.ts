/**
 * Small async helpers shared by every layer: waiting that can be cut short, and bounded waits.
 * Each one clears its own timer, so nothing here keeps a process alive after it is done.
 */

/**
 * Resolves after `ms`, or as soon as `signal` aborts (it never rejects: a loop that sleeps
 * checks `signal.aborted` itself). Returns false when the sleep was cut short.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** True when `promise` settles (either way) within `ms`; false when the time ran out first. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `promise`'s outcome, or a rejection with `onTimeout()` when it has not settled within `ms`.
 * The promise itself goes on (JavaScript cannot cancel it); its late rejection is not reported.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
    promise.catch(() => undefined);
  }
}

/**
 * Calls `check` every `intervalMs` until it returns a value other than `undefined` (returned), the
 * deadline passes or `signal` aborts (both return `undefined`). The first check is immediate.
 */
export async function pollUntil<T>(
  check: () => T | undefined | Promise<T | undefined>,
  options: { intervalMs: number; timeoutMs?: number; signal?: AbortSignal },
): Promise<T | undefined> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (options.signal?.aborted || Date.now() >= deadline) return undefined;
    await sleep(Math.min(options.intervalMs, Math.max(0, deadline - Date.now())), options.signal);
  }
}
