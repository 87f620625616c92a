import type { Redis } from 'ioredis';
import { connect } from './connection.js';
import { tqKeys } from './keys.js';

/**
 * Messages every worker listens to on the prefix's control channel. Pub/sub loses messages
 * while a subscriber reconnects, so requests that must not be lost (cancel) are also kept as
 * short-lived keys that workers check when a run starts and after reconnecting.
 */
export type ControlMessage =
  | { type: 'cancel'; id: string; reason?: string }
  | { type: 'ping'; replyTo: string; sentAt: number }
  | { type: 'shutdown'; worker?: string }
  | { type: 'pause' | 'resume'; queue?: string };

/** How long a cancel request is remembered for runs not yet started (s). */
export const CANCEL_TTL_SECONDS = 7 * 24 * 3600;

export async function publishControl(redis: Redis, prefix: string, message: ControlMessage): Promise<number> {
  return redis.publish(tqKeys(prefix).control, JSON.stringify(message));
}

/** Records a cancel request durably, then broadcasts it; returns how many listeners heard it. */
export async function requestCancel(redis: Redis, prefix: string, id: string, reason = 'cancelled by user'): Promise<number> {
  await redis.set(tqKeys(prefix).cancel(id), reason, 'EX', CANCEL_TTL_SECONDS);
  return publishControl(redis, prefix, { type: 'cancel', id, reason });
}

/** A subscription to the control channel on a connection of its own. */
export class ControlSubscriber {
  private constructor(private readonly redis: Redis) {}

  static async open(
    redisUrl: string,
    prefix: string,
    onMessage: (message: ControlMessage) => void,
    onReconnect: () => void,
  ): Promise<ControlSubscriber> {
    let first = true;
    const redis = await connect(redisUrl, { role: 'worker', name: 'tq-control' });
    redis.on('ready', () => {
      if (first) return;
      onReconnect();
    });
    first = false;
    redis.on('message', (_channel: string, text: string) => {
      try {
        const message = JSON.parse(text) as ControlMessage;
        if (message && typeof message.type === 'string') onMessage(message);
      } catch {
        // Not ours; ignore malformed control messages rather than crash a worker.
      }
    });
    await redis.subscribe(tqKeys(prefix).control);
    return new ControlSubscriber(redis);
  }

  close(): void {
    this.redis.disconnect();
  }
}
