/**
 * What a worker does with the control channel's requests: a cancel aborts the run (and is
 * remembered for a run not started yet), a shutdown request goes to whoever runs the worker, a
 * ping is answered. Pub/sub drops what was sent while disconnected, so after a reconnect the
 * durable cancel marks are read again.
 */
import type { Redis } from 'ioredis';
import { errorMessage } from '../../core/errors.js';
import type { RunControl } from '../../core/run-control.js';
import { cancelReason, CANCELLED, RunAborted } from '../../core/run-outcome.js';
import type { TaskLogger } from '../../core/task.js';
import type { CancelRegistry } from '../cancel-registry.js';
import type { ControlMessage } from '../control.js';

export interface ControlDeps {
  name: string;
  redis: Redis;
  cancels: CancelRegistry;
  active: ReadonlyMap<string, { control: RunControl }>;
  logger: TaskLogger;
  onShutdownRequest?: () => void;
}

export function answerControl(message: ControlMessage, deps: ControlDeps): void {
  if (message.type === 'cancel') {
    deps.cancels.add(message.id, message.reason ?? 'cancelled');
    deps.active.get(message.id)?.control.abort(new RunAborted(CANCELLED, cancelReason(message.reason)));
  } else if (message.type === 'shutdown') {
    if (!message.worker || message.worker === deps.name) deps.onShutdownRequest?.();
  } else if (message.type === 'ping') {
    const reply = JSON.stringify({ name: deps.name, sentAt: message.sentAt, at: Date.now() });
    // The pinger counts who answered within its timeout: a reply lost to a blip is an absent worker.
    void deps.redis.publish(message.replyTo, reply).catch((err: unknown) => deps.logger.warn(`ping not answered (${errorMessage(err)})`));
  }
}

export async function rereadCancels(deps: ControlDeps): Promise<void> {
  try {
    await deps.cancels.sync();
    for (const [id, run] of deps.active) {
      const reason = deps.cancels.get(id);
      if (reason) run.control.abort(new RunAborted(CANCELLED, cancelReason(reason)));
    }
  } catch (err) {
    deps.logger.warn(`could not re-read cancel requests after reconnecting (${errorMessage(err)})`);
  }
}
