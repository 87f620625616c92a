import { RuntimeError } from '../core/errors.js';

/** Error of a run awaited with `wait()`: the run ended failed, cancelled or expired. */
export class RunFailedError extends RuntimeError {
  constructor(
    readonly runId: string,
    readonly state: string,
    message: string,
  ) {
    super('E_TASK_FAILED', message);
  }
}
