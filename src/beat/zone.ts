/** Time-zone helpers for schedules: pure, on top of Intl (which carries the IANA database). */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
      timeZoneName: 'longOffset',
    });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * An instant as wall-clock time in `zone` with its UTC offset, e.g.
 * `2026-01-02 03:00:00 +09:00 Fri`. The offset keeps the two 01:30s of a DST fall-back apart.
 */
export function formatInZone(ms: number, zone: string, options: { weekday?: boolean } = {}): string {
  const parts: Record<string, string> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  // `longOffset` says `GMT+05:30`, or plain `GMT` for a zero offset.
  const offset = (parts.timeZoneName ?? 'GMT').replace(/^GMT/, '') || '+00:00';
  const text = `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${offset}`;
  return options.weekday ? `${text} ${parts.weekday}` : text;
}
