/**
 * Redis URLs tq accepts, parsed once here (pure: no I/O) so the connection factory, the settings
 * check and every printed URL agree on what a URL means.
 *
 * - `redis://[user:pass@]host[:port][/db]`, `rediss://...` (TLS): one server.
 * - `redis+cluster://[user:pass@]h1:p1,h2:p2`, `rediss+cluster://...`: a Redis Cluster; the hosts
 *   are seed nodes (any reachable one is enough, the others are found from it).
 * - `redis+sentinel://[user:pass@]h1:26379,h2:26379/mymaster[/db][?sentinelPassword=...]`,
 *   `rediss+sentinel://...`: the primary that Sentinel names `mymaster`; the password is the
 *   data nodes' one, `sentinelPassword` the sentinels' (when they have one).
 */

export interface RedisNode {
  host: string;
  port: number;
}

interface Common {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTarget =
  | (Common & { kind: 'single'; host: string; port: number; db?: number })
  | (Common & { kind: 'cluster'; nodes: RedisNode[] })
  | (Common & { kind: 'sentinel'; sentinels: RedisNode[]; name: string; db?: number; sentinelPassword?: string });

export type RedisKind = RedisTarget['kind'];

const SHAPE = /^(rediss?)(\+cluster|\+sentinel)?:\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/;

/** The URL forms tq accepts, for error messages. */
export const REDIS_URL_FORMS =
  'redis://host:port, rediss://..., redis+cluster://h1:p1,h2:p2 or redis+sentinel://h1:26379,h2:26379/mymaster';

/** Parses a Redis URL; throws an `Error` naming what is wrong (the caller decides the error type). */
export function parseRedisUrl(url: string): RedisTarget {
  const m = SHAPE.exec(url);
  if (!m) throw new Error(`Redis URL must look like ${REDIS_URL_FORMS}`);
  const [, scheme = 'redis', plus = '', authority = '', pathname = '', query = ''] = m;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;
  const common: Common = { tls: scheme === 'rediss' };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const user = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
    const pass = colon >= 0 ? decode(userinfo.slice(colon + 1)) : '';
    if (user) common.username = user;
    if (pass) common.password = pass;
  }
  const defaultPort = plus === '+sentinel' ? 26379 : 6379;
  const nodes = hostList.split(',').map((h) => parseNode(h, defaultPort));
  const segments = pathname.split('/').filter((s) => s !== '');
  const params = new URLSearchParams(query);
  if (plus === '+cluster') {
    if (segments.length > 0) throw new Error('a Redis Cluster has only database 0: drop the /path from the cluster URL');
    return { ...common, kind: 'cluster', nodes };
  }
  if (plus === '+sentinel') {
    const [name, dbText] = segments;
    if (!name) throw new Error('a sentinel URL names the primary after the hosts: redis+sentinel://h1:26379,h2:26379/mymaster');
    const target: RedisTarget = { ...common, kind: 'sentinel', sentinels: nodes, name: decode(name) };
    if (dbText !== undefined) target.db = parseDb(dbText);
    const sentinelPassword = params.get('sentinelPassword');
    if (sentinelPassword) target.sentinelPassword = sentinelPassword;
    return target;
  }
  if (nodes.length !== 1) throw new Error(`several hosts need redis+cluster:// or redis+sentinel:// (got ${nodes.length} hosts)`);
  const [node] = nodes as [RedisNode];
  const target: RedisTarget = { ...common, kind: 'single', host: node.host, port: node.port };
  if (segments[0] !== undefined) target.db = parseDb(segments[0]);
  return target;
}

function parseNode(text: string, defaultPort: number): RedisNode {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m || !m[1]) throw new Error(`"${text}" is not host[:port]`);
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (port < 1 || port > 65535) throw new Error(`port ${port} is out of range`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

function parseDb(text: string): number {
  if (!/^\d{1,2}$/.test(text)) throw new Error(`database "${text}" must be a number`);
  return Number(text);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A Redis URL safe to print: the passwords replaced by `***`. */
export function maskRedisUrl(url: string): string {
  const m = /^([a-z+]+:\/\/)(.*)$/.exec(url);
  if (!m) return url.replace(/\/\/(.*)@/, '//***@');
  const [, scheme = '', rest = ''] = m;
  // Up to the last '@': a password may hold an unencoded '@' or '/'.
  const at = rest.lastIndexOf('@');
  let masked = rest;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    masked = `${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : userinfo}@${rest.slice(at + 1)}`;
  }
  return `${scheme}${masked.replace(/([?&]sentinelPassword=)[^&#]*/g, '$1***').replace(/\/$/, '')}`;
}

/** The secrets a URL carries (to scrub them from error texts that echo them). */
export function urlSecrets(url: string): string[] {
  try {
    const t = parseRedisUrl(url);
    return [t.password, t.kind === 'sentinel' ? t.sentinelPassword : undefined].filter((s): s is string => Boolean(s));
  } catch {
    return [];
  }
}

/** Replaces every occurrence of `secret` in `text` (for error messages that echo URLs). */
export function scrubSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('***');
}

/**
 * The hash tag of a key prefix (`{tq}` in `{tq}` or `app{tq}`): Redis Cluster places every key
 * with the same tag in one slot. `undefined` when the prefix has none.
 */
export function hashTag(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return prefix.slice(open + 1, close);
}
