/**
 * Where the inline client keeps files. It is meant for an application's unit tests, so by
 * default it writes nowhere in the project: originals and thumbnails go to a temporary
 * directory that `close()` removes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import { clientMediaDir } from './files.js';
import type { ClientOptions } from './types.js';

/** The inline client's media directory and how to let it go. */
export interface InlineMedia {
  readonly dir: string;
  /** Removes the directory when it is a temporary one; leaves a given one alone. */
  remove(): Promise<void>;
}

/** `options.media` or the config's media under `options.dir` when either is given, else a new temporary directory. */
export function inlineMedia(resolved: ResolvedConfig, options: Pick<ClientOptions, 'media' | 'dir'>): InlineMedia {
  if (options.media !== undefined || options.dir !== undefined) {
    return { dir: clientMediaDir(resolved, options), remove: async () => undefined };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-inline-media-'));
  return { dir, remove: () => fs.promises.rm(dir, { recursive: true, force: true }) };
}
