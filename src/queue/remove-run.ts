import { RuntimeError, errorMessage } from '../core/errors.js';
import type { Admin } from './admin.js';

/**
 * Removes one run from Redis (a bulk delete of `tq web`): false when there is nothing to remove
 * or a worker holds it (active runs are cancelled, not deleted). Its history row stays: history
 * is the durable record and outlives Redis by design.
 */
export async function removeRun(admin: Admin, id: string): Promise<'removed' | 'missing' | 'active'> {
  const found = await admin.findRun(id);
  if (!found) return 'missing';
  if ((await found.job.getState()) === 'active') return 'active';
  try {
    await found.job.remove();
    return 'removed';
  } catch (err) {
    if (err instanceof Error && err.message.includes('could not be removed because it is locked')) return 'active';
    throw new RuntimeError('E_REDIS', `could not remove run ${id}: ${errorMessage(err)}`, { cause: err });
  }
}
