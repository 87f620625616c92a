/**
 * Run ids of scheduled runs: `beat-<schedule name, escaped>-<fire time, epoch ms>`, e.g.
 * `beat-clean-old-images-every-day-1767322800000`.
 *
 * The id is a pure function of the schedule and the fire time, so every beat process computes
 * the same id for the same fire, and a retried enqueue of a fire is a no-op while its run is
 * still in Redis. BullMQ refuses ids with `:` (its key separator) or made only of digits, so the
 * name keeps `A-Z a-z 0-9 _ . -` as they are (readable in logs) and escapes every other UTF-8
 * byte as `~XX`. The escaping is reversible, so two names never share an id; the fire time is
 * everything after the last `-`.
 */
const RUN_ID_PREFIX = 'beat-';
/** BullMQ ids are Redis key parts; tq caps custom ids at 200 characters. */
const MAX_RUN_ID = 200;
/** Room for the separator and a fire time of up to 14 digits. */
export const MAX_ENCODED_NAME = MAX_RUN_ID - RUN_ID_PREFIX.length - 15;

/** The name with every byte outside `A-Z a-z 0-9 _ . -` escaped as `~XX`. */
export function encodeScheduleName(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.-]/.test(c) ? c : `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeScheduleName(encoded: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '~') {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The run id of one fire of a schedule. */
export function scheduleRunId(name: string, fireMs: number): string {
  return `${RUN_ID_PREFIX}${encodeScheduleName(name)}-${fireMs}`;
}

/** The schedule name and fire time a scheduled run's id stands for; undefined for other ids. */
export function parseScheduleRunId(id: string): { name: string; fireMs: number } | undefined {
  const m = /^beat-((?:[A-Za-z0-9_.-]|~[0-9A-F]{2})+)-(\d+)$/.exec(id);
  if (!m) return undefined;
  return { name: decodeScheduleName(m[1]!), fireMs: Number(m[2]) };
}
