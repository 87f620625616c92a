import { CommanderError } from 'commander';
import { TqError, errorMessage } from '../core/errors.js';
import { scrubSecret } from '../core/url.js';
import { asOutOfMemory } from '../queue/memory.js';
import { ForcedExit } from './signals.js';

/**
 * How a failed command is reported on stderr: a TqError as one line with its hint (its stack
 * only with --debug), anything else as an internal error; never a Redis password.
 * Returns the exit code.
 */
export function report(failure: unknown, debug: boolean, argv: readonly string[]): number {
  // Redis refusing a write for memory is one line that names maxmemory, whichever command (or
  // BullMQ script) met it first.
  const err = asOutOfMemory(failure);
  const stderr = process.stderr;
  // Never print a Redis password, even inside messages from libraries.
  const redisArg = argv[argv.indexOf('--redis') + 1] ?? process.env.TQ_REDIS_URL;
  let password: string | undefined;
  try {
    password = redisArg ? decodeURIComponent(new URL(redisArg).password) || undefined : undefined;
  } catch {
    password = undefined;
  }
  const clean = (text: string) => scrubSecret(text, password);
  if (err instanceof ForcedExit) {
    stderr.write(`tq: ${err.message}\n`);
    return 1;
  }
  if (err instanceof TqError) {
    stderr.write(`tq: ${clean(err.message)}${err.hint ? ` — ${err.hint}` : ''}\n`);
    if (debug && err.stack) stderr.write(`${clean(err.stack)}\n`);
    return err.exitCode;
  }
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  stderr.write(`tq: internal error: ${clean(errorMessage(err))}${debug ? '' : ' (run with --debug for the stack)'}\n`);
  if (debug && err instanceof Error && err.stack) stderr.write(`${clean(err.stack)}\n`);
  return 1;
}
