/** A Redis URL safe to print: the password (and ACL user's password) replaced by `***`. */
export function maskRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    // Unparseable (e.g. an unencoded '/' in the password): mask everything up to the last '@'.
    return url.replace(/\/\/(.*)@/, (_m, auth: string) => `//${auth.includes(':') ? auth.split(':')[0] + ':***' : '***'}@`);
  }
}

/** Replaces every occurrence of `secret` in `text` (for error messages that echo URLs). */
export function scrubSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('***');
}
