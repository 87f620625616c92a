import { errorMessage } from '../../core/errors.js';
import type { TaskLogger } from '../../core/task.js';
import type { ResolvedConfig } from '../../config/resolved.js';

/**
 * Runs the `warmup` of every task whose queue a worker serves, before it takes its first run (an
 * isolated task warms up in its own child process instead). A failure is only logged: the first
 * run of that task meets the problem and fails with its reason.
 */
export async function warmUp(config: ResolvedConfig, queues: readonly string[], isolating: boolean, logger: TaskLogger): Promise<void> {
  const served = new Set(queues);
  const tasks = [...config.tasks.values()].filter((t) => t.definition.warmup && served.has(t.queue) && !(t.isolate && isolating));
  await Promise.all(
    tasks.map(async (task) => {
      try {
        await task.definition.warmup!();
      } catch (err) {
        logger.warn(`${task.name}: warmup failed (${errorMessage(err)}); its runs will meet the same problem`);
      }
    }),
  );
}
