/**
 * What is checked before a run's handler is called: a cancel mark, the expiry, the task's rate
 * slot. The decisions are pure (`admit`, `rateVerdict`); `passGates` fetches what they need.
 * A gate never throws a BullMQ error: the runtime turns the verdict into one.
 */
import type { RateLimitSpec } from '../../core/rate.js';
import { cancelReason, expiryReason } from '../../core/run-outcome.js';
import type { CancelRegistry } from '../cancel-registry.js';
import type { ServerClock } from '../clock.js';
import type { RateLimiter } from '../rate-limit.js';

/** Run now; park until the reserved rate slot (spends no attempt); or fail with this reason. */
export type GateVerdict = { kind: 'run' } | { kind: 'park'; slot: number; waitMs: number } | { kind: 'fail'; reason: string };

const RUN: GateVerdict = { kind: 'run' };
/** A slot this close (ms) counts as now: parking for less is not worth two round trips. */
const SLOT_SLACK_MS = 5;

/** Cancel and expiry: a cancelled run ends cancelled, one not started before `expiresAt` expired. */
export function admit(input: { cancelled: string | undefined; expiresAt: number | undefined; now: number }): GateVerdict {
  if (input.cancelled !== undefined) return { kind: 'fail', reason: cancelReason(input.cancelled) };
  if (input.expiresAt !== undefined && input.now > input.expiresAt)
    return { kind: 'fail', reason: expiryReason(input.expiresAt, input.now) };
  return RUN;
}

/** Whether a run still needs a rate slot (one parked earlier already holds its own). */
export function needsRateSlot(heldSlot: number | undefined, now: number): boolean {
  return !(heldSlot !== undefined && now >= heldSlot - SLOT_SLACK_MS);
}

/** A freshly reserved slot: run now, or park until it. */
export function rateVerdict(slot: number, now: number): GateVerdict {
  return slot > now + SLOT_SLACK_MS ? { kind: 'park', slot, waitMs: slot - now } : RUN;
}

export interface GateInput {
  id: string;
  task: string;
  rateLimit: RateLimitSpec | undefined;
  expiresAt: number | undefined;
  /** The slot a parked run already reserved. */
  heldSlot: number | undefined;
  /** A run can be parked only while its worker holds its lock (BullMQ gives a token). */
  canPark: boolean;
}

export interface GateDeps {
  cancels: CancelRegistry;
  clock: ServerClock;
  rate: RateLimiter;
  /** A failed clock re-sync (the gates go on with the last offset). */
  onClockError?: (err: unknown) => void;
}

/** The gates in order: cancel (no round trip), expiry (server clock), rate slot (one script call). */
export async function passGates(input: GateInput, deps: GateDeps): Promise<GateVerdict> {
  const cancelled = deps.cancels.get(input.id);
  if (cancelled !== undefined) return admit({ cancelled, expiresAt: undefined, now: 0 });
  if (input.expiresAt !== undefined || input.rateLimit) {
    // A re-sync that fails (a Redis blip) keeps the last measured offset, which is still close:
    // the run is judged by it rather than failed for a clock reading.
    await deps.clock.fresh().catch((err: unknown) => deps.onClockError?.(err));
  }
  const admitted = admit({ cancelled: undefined, expiresAt: input.expiresAt, now: deps.clock.now() });
  if (admitted.kind !== 'run' || !input.rateLimit || !input.canPark) return admitted;
  if (!needsRateSlot(input.heldSlot, deps.clock.now())) return RUN;
  const { slot, now } = await deps.rate.reserve(input.task, input.rateLimit);
  return rateVerdict(slot, now);
}
