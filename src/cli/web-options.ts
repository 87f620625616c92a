import { UsageError } from '../core/errors.js';

/** `--port` of `tq web` (and `--web-port` of `tq dev`): 0 picks a free port. */
export function parsePort(value: string | undefined, flag = '--port'): number {
  if (value === undefined) return 5555;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port from 0 to 65535 (got "${value}")`);
  return n;
}
