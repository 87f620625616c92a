import fs from 'node:fs';
import path from 'node:path';

/**
 * The application a config directory belongs to when its config names none: the `name` of the
 * nearest package.json at or above `dir` (as Node finds a package), or undefined when there is
 * none or it has no name. Two apps on one Redis are told apart by it.
 */
export function appName(dir: string): string | undefined {
  for (let current = path.resolve(dir); ;) {
    const file = path.join(current, 'package.json');
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // An unreadable package.json names no app; a missing one sends the search further up.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined;
    }
    if (text !== undefined) {
      try {
        const name = (JSON.parse(text) as { name?: unknown }).name;
        return typeof name === 'string' && name.length > 0 ? name : undefined;
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
        return undefined; // a broken package.json names no app; npm itself reports it
      }
    }
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}
