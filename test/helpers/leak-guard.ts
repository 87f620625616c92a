import { afterAll, beforeEach } from 'vitest';
import { getCurrentTest } from 'vitest/suite';
import { setOwnerResolver, stillRunning, type TrackedProcess } from './processes.js';

/**
 * One guard for every test file (vitest `setupFiles`): a test that ends with a process it
 * started still running fails, naming the process, and the process is stopped so it cannot
 * disturb the next test. "Ends" is after its `afterEach` hooks and `onTestFinished` callbacks
 * (`stopAfterTest(p)` registers one), so stopping there is fine. Processes started in a
 * `beforeAll` must be stopped by the file's `afterAll`s.
 */
setOwnerResolver(() => getCurrentTest());

async function stopAll(leaked: TrackedProcess[], where: string): Promise<void> {
  if (leaked.length === 0) return;
  await Promise.all(leaked.map((p) => p.stop()));
  throw new Error(
    `${where} left ${leaked.length} process(es) running: ${leaked.map((p) => p.name).join('; ')}. ` +
      'Stop each before the end (await p.stop(), or stopAfterTest(p) where it is started).',
  );
}

beforeEach(({ task, onTestFinished }) => {
  // Registered before anything the test registers, so it runs after all of them.
  onTestFinished(() => stopAll(stillRunning(task), 'this test'));
});

afterAll(() => stopAll(stillRunning(undefined), 'this file (beforeAll)'));
