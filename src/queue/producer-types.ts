/** What a producer is opened with, and how a run it waits for ends. */

export interface ProducerSettings {
  redisUrl: string;
  prefix: string;
  /**
   * How long history events wait for company before they are written (ms). 0 (the default):
   * at the end of the tick, before any later command on this connection. A long-lived client
   * (the client API: 20) gathers longer: one XADD per many runs instead of one per few.
   */
  eventBatchMs?: number;
  /**
   * Hears what goes wrong with history writes (a failed write of run events, events dropped at
   * `close()`) and a host clock more than a second off Redis's. Default: a Node process warning
   * on stderr.
   */
  onWarning?: (message: string) => void;
  /** Whether `connect` warns about this host's clock (default true; a worker already did). */
  clockWarning?: boolean;
  /** `'client'`: reconnect forever, fail commands at once while down (default `'producer'`: fail fast, give up). */
  role?: 'producer' | 'client';
}

export type RunOutcome =
  | { state: 'completed'; result: unknown }
  | { state: 'failed' | 'cancelled' | 'expired'; error: string }
  | { state: 'timeout'; lastState: string };
