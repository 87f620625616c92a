/**
 * The client's Redis connections, made to survive: opened at the first call that needs them (a
 * client may be created before Redis is up: the ordinary start order of a compose file), opened
 * again by the next call when that failed, and reconnecting by themselves after an outage. A call
 * made while Redis is down fails at once with `RedisUnavailableError` instead of waiting.
 */
import type { ResolvedConfig, Settings } from '../config/index.js';
import { ConfigError, RedisUnavailableError, TqError, UsageError, errorMessage } from '../core/errors.js';
import { maskRedisUrl } from '../core/url.js';
import type { Admin, Producer } from '../queue/index.js';

/** What a connected client calls Redis through. */
export interface ClientParts {
  readonly producer: Producer;
  readonly admin: Admin;
}

const HINT =
  'the client reconnects by itself: try again once Redis is back (is redis-server running? is the redis option or TQ_REDIS_URL right?)';

export class ClientConnection {
  private opening: Promise<ClientParts> | undefined;
  private parts: ClientParts | undefined;
  private closed = false;

  constructor(private readonly setup: () => Promise<{ resolved: ResolvedConfig; settings: Settings }>) {}

  /**
   * Runs `fn` on the connections: fails fast when Redis is not answering now, and turns a
   * failure caused by losing Redis during `fn` into `RedisUnavailableError`.
   */
  async call<R>(fn: (parts: ClientParts) => Promise<R>): Promise<R> {
    const parts = this.parts ?? (await this.open());
    const url = (await this.setup()).settings.redisUrl;
    if (!isUp(parts)) throw unavailable(url, 'the call was not made');
    try {
      return await fn(parts);
    } catch (err) {
      // Mistakes of the caller stay what they are, whatever the connection does meanwhile.
      if (err instanceof UsageError || err instanceof ConfigError || err instanceof RedisUnavailableError) throw err;
      if (!isUp(parts)) throw unavailable(url, 'it stopped answering during the call, which may or may not have been made', err);
      throw err;
    }
  }

  private open(): Promise<ClientParts> {
    this.opening ??= this.connect().then(
      (parts) => {
        this.parts = parts;
        return parts;
      },
      (err: unknown) => {
        // The next call tries again: Redis may be up by then.
        this.opening = undefined;
        throw err;
      },
    );
    return this.opening;
  }

  private async connect(): Promise<ClientParts> {
    const { resolved, settings } = await this.setup();
    const { Producer, Admin } = await import('../queue/index.js');
    const url = settings.redisUrl;
    const reachable = <T>(promise: Promise<T>) =>
      promise.catch((err: unknown) => {
        // A refused or silent connection is an outage like any other; a newer layout or an
        // evicting Redis is a configuration problem and keeps its own error.
        if (err instanceof RedisUnavailableError && err.message.startsWith('cannot reach Redis')) {
          throw unavailable(url, 'the call was not made', err);
        }
        throw err;
      });
    // History events of runs enqueued within 20 ms share one write (close() flushes the rest):
    // a server enqueueing as it handles requests pays one XADD per batch, not per run.
    const producer = await reachable(Producer.connect(resolved, { ...settings, eventBatchMs: 20, role: 'client' }));
    let admin: Admin;
    try {
      admin = await reachable(Admin.connect(resolved, { ...settings, role: 'client' }));
    } catch (err) {
      await producer.close();
      throw err;
    }
    if (this.closed) {
      // close() came while connecting: nothing may stay open behind it.
      await Promise.all([producer.close(), admin.close()]);
      throw unavailable(url, 'the client is closed');
    }
    return { producer, admin };
  }

  /** Closes the connections (waiting for one being opened). */
  async close(): Promise<void> {
    this.closed = true;
    const parts = this.parts ?? (await this.opening?.catch((err: unknown) => expectedOpenFailure(err)));
    this.parts = undefined;
    if (parts) await Promise.all([parts.producer.close(), parts.admin.close()]);
  }
}

/** The failure of an opening that `close()` waited for: it went to the call that made it. */
function expectedOpenFailure(err: unknown): undefined {
  if (err instanceof TqError) return undefined;
  throw err;
}

function isUp(parts: ClientParts): boolean {
  return parts.producer.connected && parts.admin.connected;
}

function unavailable(url: string, what: string, cause?: unknown): RedisUnavailableError {
  const why = cause === undefined ? '' : ` (${errorMessage(cause)})`;
  return new RedisUnavailableError(`Redis at ${maskRedisUrl(url)} is not answering; ${what}${why}`, {
    hint: HINT,
    ...(cause === undefined ? {} : { cause }),
  });
}
