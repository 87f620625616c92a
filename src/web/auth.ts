/**
 * Who may do what through `tq web`. Three roles, each including the ones below it: `viewer`
 * (read), `operator` (enqueue, retry, cancel, pause, resume), `admin` (purge, shutdown, bulk
 * delete). Tokens come from the environment (`TQ_WEB_TOKENS`) or a file (`TQ_WEB_TOKENS_FILE`),
 * never from the command line (it shows in `ps`), and a secret is never printed or logged: it is
 * kept only as its SHA-256 digest, and everything said about a token names it by its name.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { UsageError, errorMessage } from '../core/errors.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` may do what `needed` may. */
export const allows = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

/** Who a request is: a token's name and role, or `anonymous` on a server without tokens. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

/** A secret shorter than this is refused: a token guards enqueue, purge and shutdown. */
export const MIN_SECRET_LENGTH = 16;

export interface AccessPolicy {
  /** Tokens by the SHA-256 digest of their secret (empty: no tokens configured). */
  readonly tokens: ReadonlyMap<string, Principal>;
  /** `--read-only`: every action is refused, whatever the role. */
  readonly readOnly: boolean;
  /** Without tokens: what every request may do (`viewer`, or `admin` with `--allow-actions`). */
  readonly anonymousRole: Role;
}

const digest = (secret: string) => createHash('sha256').update(secret).digest('hex');

/**
 * Parses token entries `name:role:secret` (or `role:secret`, named after the role), separated
 * by commas or newlines; `#` starts a comment line in a file. Errors name the entry by its
 * position and name, never by its secret.
 */
export function parseTokens(text: string, source: string): Map<string, Principal> {
  const tokens = new Map<string, Principal>();
  const names = new Set<string>();
  const entries = text
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  entries.forEach((entry, i) => {
    const parts = entry.split(':');
    const where = `${source}, entry ${i + 1}`;
    if (parts.length < 2) throw new UsageError(`${where}: expected name:role:secret (or role:secret)`);
    const [first, second] = parts as [string, string];
    const named = parts.length >= 3 && !(ROLES as readonly string[]).includes(first);
    const name = first;
    const role = named ? second : first;
    const secret = parts.slice(named ? 2 : 1).join(':');
    if (!(ROLES as readonly string[]).includes(role))
      throw new UsageError(`${where} (${name}): role "${role}" is not one of ${ROLES.join(', ')}`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
      throw new UsageError(`${where}: the name must be 1-64 letters, digits, dots, dashes or underscores`);
    if (secret.length < MIN_SECRET_LENGTH)
      throw new UsageError(`${where} (${name}): the secret must be at least ${MIN_SECRET_LENGTH} characters`, {
        hint: 'make one with: openssl rand -hex 24',
      });
    if (names.has(name)) throw new UsageError(`${where}: the name "${name}" is given twice`);
    const key = digest(secret);
    if (tokens.has(key)) throw new UsageError(`${where} (${name}): the same secret is given twice`);
    names.add(name);
    tokens.set(key, { name, role: role as Role });
  });
  return tokens;
}

/** The tokens of the environment: `TQ_WEB_TOKENS`, and/or the file `TQ_WEB_TOKENS_FILE`. */
export function tokensFromEnv(env: Readonly<Record<string, string | undefined>>): Map<string, Principal> {
  const tokens = new Map<string, Principal>();
  const add = (more: Map<string, Principal>) => {
    for (const [k, v] of more) {
      if ([...tokens.values()].some((t) => t.name === v.name))
        throw new UsageError(`web token "${v.name}" is given in both TQ_WEB_TOKENS and TQ_WEB_TOKENS_FILE`);
      tokens.set(k, v);
    }
  };
  if (env.TQ_WEB_TOKENS) add(parseTokens(env.TQ_WEB_TOKENS, 'TQ_WEB_TOKENS'));
  const file = env.TQ_WEB_TOKENS_FILE;
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`TQ_WEB_TOKENS_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
    add(parseTokens(text, `TQ_WEB_TOKENS_FILE ${file}`));
  }
  return tokens;
}

/** Whether a host to bind is this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * The policy of a server: without tokens it may only listen on loopback (anyone on the host
 * can reach it) and is read-only unless `allowActions`.
 */
export function accessPolicy(
  tokens: ReadonlyMap<string, Principal>,
  options: { host: string; readOnly: boolean; allowActions: boolean },
): AccessPolicy {
  if (tokens.size === 0 && !isLoopback(options.host)) {
    throw new UsageError(`tq web refuses to listen on ${options.host} without tokens: anyone who can reach it could read every run`, {
      hint: 'set TQ_WEB_TOKENS (name:role:secret,...) or TQ_WEB_TOKENS_FILE, or keep --host 127.0.0.1',
    });
  }
  return { tokens, readOnly: options.readOnly, anonymousRole: options.allowActions ? 'admin' : 'viewer' };
}

export type Authentication = { ok: true; principal: Principal } | { ok: false; reason: string };

/** Who an `Authorization` header says the caller is. */
export function authenticate(policy: AccessPolicy, header: string | undefined): Authentication {
  if (policy.tokens.size === 0) return { ok: true, principal: { name: 'anonymous', role: policy.anonymousRole } };
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) return { ok: false, reason: 'this server needs a token: send Authorization: Bearer <token>' };
  const principal = policy.tokens.get(digest(match[1]!));
  return principal ? { ok: true, principal } : { ok: false, reason: 'the token is not one this server knows' };
}
