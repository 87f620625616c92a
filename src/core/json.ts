import { UsageError } from './errors.js';

export const DEFAULT_PAYLOAD_LIMIT = 1024 * 1024;
/** Results are stored in Redis (three times over: the job, its event, history's stream) like payloads. */
export const DEFAULT_RESULT_LIMIT = DEFAULT_PAYLOAD_LIMIT;
const MAX_DEPTH = 64;

/**
 * Checks that `value` survives a JSON round trip unchanged in meaning (no functions, symbols,
 * bigints, class instances with hidden state, cycles, NaN), is not nested absurdly deep and
 * fits `limitBytes` once serialised.
 */
export function assertJsonPayload(value: unknown, what = 'payload', limitBytes = DEFAULT_PAYLOAD_LIMIT): void {
  const size = jsonSizeOver(value, what, limitBytes);
  if (size !== undefined) {
    throw new UsageError(`${what} is ${size} bytes, over the ${limitBytes}-byte limit`, {
      hint: 'pass a reference (a record id, a path) instead of the data, or raise payloadLimit in the config',
    });
  }
}

/**
 * The same checks for a handler's result against `resultLimit`. The failure is a `UsageError`,
 * final like every bad input (the same handler returns the same size again), and its message
 * carries the fix because a run's error is all its owner sees.
 */
export function assertJsonResult(value: unknown, limitBytes = DEFAULT_RESULT_LIMIT): void {
  const size = jsonSizeOver(value, 'result', limitBytes);
  if (size !== undefined) {
    throw new UsageError(
      `result is ${size} bytes, over the ${limitBytes}-byte resultLimit: return a reference (a record id, a path) instead of the data, or raise resultLimit in the config`,
    );
  }
}

/** Checks `value` is plain JSON (throws naming where it is not); its size in bytes when over `limitBytes`. */
function jsonSizeOver(value: unknown, what: string, limitBytes: number): number | undefined {
  const walk = { units: 0 };
  checkJson(value, { root: what, keys: [] }, 0, new Set(), walk);
  // One UTF-16 unit of a string is at most 6 bytes of JSON (`\u001f`), anything else one byte
  // per character: a value whose bound is under the limit need not be serialised to be sure
  // (the engine serialises it anyway; doing it twice per run costs every enqueue).
  if (walk.units * 6 <= limitBytes) return undefined;
  const size = Buffer.byteLength(JSON.stringify(value ?? null));
  return size > limitBytes ? size : undefined;
}

/**
 * Where a value sits: the root's name and the keys down to it, kept on one shared stack while
 * walking (a path object per value would cost every enqueue) and spelled out only for a message.
 */
interface JsonPath {
  root: string;
  keys: (string | number)[];
}
function pathText(p: JsonPath): string {
  let text = p.root;
  for (const key of p.keys) text += typeof key === 'number' ? `[${key}]` : `.${key}`;
  return text;
}

function checkJson(value: unknown, at: JsonPath, depth: number, seen: Set<unknown>, walk: { units: number }): void {
  const path = () => pathText(at);
  if (depth > MAX_DEPTH) throw new UsageError(`${path()} is nested more than ${MAX_DEPTH} levels deep`);
  // Every value is followed by a separator and may sit under a key; strings bring their quotes.
  walk.units += 8;
  if (typeof value === 'string') {
    walk.units += value.length;
    return;
  }
  if (value === null || value === undefined || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new UsageError(`${path()} is ${value}, which JSON cannot carry`);
    walk.units += 24;
    return;
  }
  if (typeof value !== 'object') {
    throw new UsageError(`${path()} is a ${typeof value}, which is not JSON-serialisable`);
  }
  if (seen.has(value)) throw new UsageError(`${path()} contains a cycle, which is not JSON-serialisable`);
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      at.keys.push(i);
      checkJson(value[i], at, depth + 1, seen, walk);
      at.keys.pop();
    }
  } else if (value instanceof Date) {
    // Dates serialise to ISO strings; accepted, the handler receives the string.
    walk.units += 32;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new UsageError(`${path()} is a ${proto?.constructor?.name ?? 'class'} instance; payloads are plain JSON`);
    }
    for (const key in value) {
      if (Object.prototype.hasOwnProperty.call(value, key)) {
        walk.units += key.length;
        at.keys.push(key);
        checkJson((value as Record<string, unknown>)[key], at, depth + 1, seen, walk);
        at.keys.pop();
      }
    }
  }
  seen.delete(value);
}

/** Parses `--payload` text; a parse failure is a UsageError naming the flag. */
export function parseJsonArg(text: string, what = '--payload'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Masks the values of the given keys (any depth) before a payload is stored in history. */
export function redact(value: unknown, keys: readonly string[]): unknown {
  if (keys.length === 0) return value;
  const lower = new Set(keys.map((k) => k.toLowerCase()));
  const shell = (v: unknown): unknown => (Array.isArray(v) ? new Array<unknown>(v.length) : v && typeof v === 'object' ? {} : v);
  const out = shell(value);
  if (out === value) return value;
  // Iterative, not recursive: a payload nested 200,000 deep (a plain producer can send one) must
  // not overflow the stack of the process that records it.
  const stack: [unknown, unknown][] = [[value, out]];
  while (stack.length > 0) {
    const [from, to] = stack.pop()!;
    if (Array.isArray(from)) {
      const target = to as unknown[];
      from.forEach((item, i) => {
        const copy = shell(item);
        target[i] = copy;
        if (copy !== item) stack.push([item, copy]);
      });
      continue;
    }
    for (const [k, item] of Object.entries(from as Record<string, unknown>)) {
      const masked = lower.has(k.toLowerCase());
      const copy = masked ? '[redacted]' : shell(item);
      // defineProperty, not assignment: an own `__proto__` key (JSON.parse makes them) stays a key.
      Object.defineProperty(to, k, { value: copy, enumerable: true, writable: true, configurable: true });
      if (!masked && copy !== item) stack.push([item, copy]);
    }
  }
  return out;
}
