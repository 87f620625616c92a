import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, errorMessage } from '../core/errors.js';
import type { TqConfig } from '../core/task.js';
import { resolveConfig } from './validate.js';
import type { ResolvedConfig } from './resolved.js';

export const DEFAULT_CONFIG_FILE = 'tasks.config.ts';

/**
 * `tq` and `tq/tasks` inside the user's config resolve to this very copy of tq, wherever the
 * config file lives: one instance of each module, and a config outside any project works.
 */
function selfAliases(): Record<string, string> {
  const dist = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  return { 'tq/tasks': path.join(dist, 'tasks', 'index.js'), tq: path.join(dist, 'index.js') };
}

/** Loads and validates a config file (TypeScript or JavaScript) with jiti. */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const abs = path.resolve(file);
  const shown = path.relative(process.cwd(), abs) || abs;
  if (!fs.existsSync(abs)) {
    throw new ConfigError(`no config file at ${shown}`, [], {
      hint: 'create tasks.config.ts (see the README), or pass --config / set TQ_CONFIG',
    });
  }
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, { alias: selfAliases(), interopDefault: true, moduleCache: false });
  let mod: unknown;
  try {
    mod = await jiti.import(abs, { default: true });
  } catch (err) {
    // A task factory's own check (resizeImage() options) already says what is wrong and allowed.
    if (err instanceof ConfigError) throw new ConfigError(`${shown}: ${err.message}`, err.problems, { cause: err });
    const syntax = syntaxError(errorMessage(err), abs, shown);
    if (syntax) throw new ConfigError(syntax, [syntax], { cause: err });
    throw new ConfigError(`${shown}: failed to load: ${firstLine(errorMessage(err))}`, [], {
      hint: 'run with --debug for the stack',
      cause: err,
    });
  }
  return resolveConfig(mod, abs, path.dirname(abs));
}

/** Builds a resolved config from an object (used by `tq demo` and the inline client). */
export function configFromObject(config: TqConfig, dir: string): ResolvedConfig {
  return resolveConfig(config, undefined, dir);
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/**
 * A parse error of the config (jiti's `ParseError: <reason>` ending in `<file>:<line>:<column>`,
 * the column counted from 0) as `tasks.config.ts:5:5: <reason>` (editors count columns from 1)
 * with the offending line and a caret under the column; undefined for any other error.
 */
function syntaxError(message: string, abs: string, shown: string): string | undefined {
  const reason = /^(?:ParseError|SyntaxError): (.*)$/m.exec(message)?.[1]?.trim();
  const at = /:(\d+):(\d+)\s*$/.exec(message);
  if (reason === undefined || !at) return undefined;
  const line = Number(at[1]);
  const column = Number(at[2]);
  let source: string | undefined;
  try {
    source = fs.readFileSync(abs, 'utf8').split(/\r?\n/)[line - 1];
  } catch (err) {
    // The file was there a moment ago; without it the position alone still says where.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const head = `${shown}:${line}:${column + 1}: syntax error: ${reason}`;
  if (source === undefined) return head;
  const gutter = String(line);
  return `${head}\n  ${gutter} | ${source}\n  ${' '.repeat(gutter.length)} | ${' '.repeat(column)}^`;
}
