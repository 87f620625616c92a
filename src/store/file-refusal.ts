import { errorMessage } from '../core/errors.js';

/**
 * The file refuses writes for a reason outside tq (a lock held by another process, a full disk,
 * a read-only file): named for people, with SQLite's code. Undefined for anything else.
 */
export function fileRefusal(err: unknown): { code: string; text: string } | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return { code: 'SQLITE_BUSY', text: `the history database is locked by another process (${code})` };
  if (code === 'SQLITE_FULL') return { code, text: 'the disk holding the history database is full (SQLITE_FULL)' };
  if (code.startsWith('SQLITE_READONLY')) return { code, text: `the history database cannot be written (${code}: check its permissions)` };
  if (code.startsWith('SQLITE_IOERR')) return { code, text: `the history database could not be written (${code}: ${errorMessage(err)})` };
  return undefined;
}
