/**
 * Every process the test helpers start (tq commands, redis-servers), so the leak guard
 * (`leak-guard.ts`) can tell which ones a test left running. No vitest import here: the global
 * setup (outside any test) starts a redis-server through the same helpers.
 */

export interface TrackedProcess {
  /** What it is, for the guard's message (`tq worker -Q default (pid 123)`). */
  readonly name: string;
  running(): boolean;
  stop(): Promise<unknown>;
}

interface Entry extends TrackedProcess {
  /** The test that started it; undefined when started outside a test (beforeAll). */
  readonly owner: object | undefined;
}

const entries = new Set<Entry>();
let currentOwner: () => object | undefined = () => undefined;

/** Set by the leak guard: which test is running now. */
export function setOwnerResolver(resolve: () => object | undefined): void {
  currentOwner = resolve;
}

/** Registers a process a helper started; it is forgotten once it is not running any more. */
export function trackProcess(process: TrackedProcess): void {
  entries.add({ name: process.name, running: () => process.running(), stop: () => process.stop(), owner: currentOwner() });
}

/** The processes `owner` started (undefined: those started outside tests) that still run. */
export function stillRunning(owner: object | undefined): TrackedProcess[] {
  const out: TrackedProcess[] = [];
  for (const entry of entries) {
    if (!entry.running()) entries.delete(entry);
    else if (entry.owner === owner) out.push(entry);
  }
  return out;
}
