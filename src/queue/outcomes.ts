/**
 * How tq marks why a run ended without its handler deciding: the prefix of the failure reason
 * BullMQ stores. Workers, inspect and history all read the state back from it.
 */
export const TIME_LIMIT = 'TimeLimitExceeded';
export const CANCELLED = 'Cancelled';
export const EXPIRED = 'Expired';

export type EndReason = typeof TIME_LIMIT | typeof CANCELLED | typeof EXPIRED;

export function reasonMessage(reason: EndReason, detail: string): string {
  return `${reason}: ${detail}`;
}

/** The tq state a failure reason stands for. */
export function failureState(message: string | undefined): 'failed' | 'cancelled' | 'expired' {
  if (message?.startsWith(`${CANCELLED}:`)) return 'cancelled';
  if (message?.startsWith(`${EXPIRED}:`)) return 'expired';
  return 'failed';
}

/** An abort reason carrying the end reason (what `ctx.signal.reason` is). */
export class RunAborted extends Error {
  constructor(
    readonly reason: EndReason | 'Shutdown',
    message: string,
  ) {
    super(message);
    this.name = reason === 'Shutdown' ? 'WorkerShutdown' : reason;
  }
}
