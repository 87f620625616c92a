/**
 * Realistic `task_runs` rows for the history benchmark: a mix of tasks and queues, mostly
 * completed runs with a few percent failed (errors from a set of real-looking messages with
 * variable parts), payloads with user ids, files, addresses and URLs, results, and log lines on a
 * quarter of the runs. Deterministic (seeded) so every run of the bench sees the same data.
 */
export type Rng = () => number;

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TASKS: { task: string; queue: string; weight: number }[] = [
  { task: 'resize', queue: 'images', weight: 35 },
  { task: 'thumbnail', queue: 'images', weight: 10 },
  { task: 'email', queue: 'mail', weight: 25 },
  { task: 'webhook', queue: 'default', weight: 12 },
  { task: 'report', queue: 'reports', weight: 3 },
  { task: 'invoice', queue: 'billing', weight: 8 },
  { task: 'sync-crm', queue: 'default', weight: 5 },
  { task: 'cleanup', queue: 'default', weight: 2 },
];
const STATES: { state: string; weight: number }[] = [
  { state: 'completed', weight: 880 },
  { state: 'failed', weight: 60 },
  { state: 'cancelled', weight: 15 },
  { state: 'expired', weight: 5 },
  { state: 'lost', weight: 2 },
  { state: 'waiting', weight: 20 },
  { state: 'active', weight: 5 },
  { state: 'delayed', weight: 10 },
  { state: 'retrying', weight: 3 },
];
const WORDS = ['width', 'height', 'format', 'user', 'account', 'retry', 'quota', 'locale', 'plan', 'region'];
const TEMPLATES = ['welcome', 'reset-password', 'receipt', 'digest', 'invite', 'trial-ending', 'invoice', 'alert'];

function weighted<T extends { weight: number }>(r: Rng, items: readonly T[]): T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  let x = r() * total;
  for (const i of items) if ((x -= i.weight) < 0) return i;
  return items[items.length - 1]!;
}

const int = (r: Rng, n: number) => Math.floor(r() * n);
const hex = (r: Rng, n: number) => Array.from({ length: n }, () => int(r, 16).toString(16)).join('');
const b36 = (r: Rng, n: number) => Array.from({ length: n }, () => int(r, 36).toString(36)).join('');

function errorFor(r: Rng, task: string, p: Record<string, unknown>): string {
  switch (int(r, 8)) {
    case 0:
      return task === 'resize' || task === 'thumbnail'
        ? `Input buffer has corrupt header: premature end of JPEG ${String(p.file)}`
        : 'timed out after 30000 ms';
    case 1:
      return `connect ECONNREFUSED 10.0.${int(r, 255)}.${int(r, 255)}:443`;
    case 2:
      return 'timed out after 30000 ms';
    case 3:
      return task === 'email'
        ? `SMTP 550 mailbox unavailable for ${String(p.to)}`
        : `HTTP 502 Bad Gateway from https://hooks.example.com/${hex(r, 12)}`;
    case 4:
      return 'SqliteError: database is locked';
    case 5:
      return `TypeError: Cannot read properties of undefined (reading '${WORDS[int(r, WORDS.length)]}')`;
    case 6:
      return `rate limited by upstream: retry after ${1 + int(r, 60)}s`;
    default:
      return `validation failed: ${WORDS[int(r, WORDS.length)]} is required`;
  }
}

function payloadFor(r: Rng, task: string, samples: Samples): Record<string, unknown> {
  const user = 1 + int(r, 200_000);
  if (samples.users.length < 200 && r() < 0.01) samples.users.push(user);
  switch (task) {
    case 'resize':
    case 'thumbnail':
      return { file: `uploads/2026/${1 + int(r, 12)}/${b36(r, 10)}.jpg`, user, maxWidth: 800 };
    case 'email':
      return { to: `user${user}@example.com`, template: TEMPLATES[int(r, TEMPLATES.length)], user };
    case 'webhook': {
      const h = hex(r, 16);
      if (samples.hexes.length < 200 && r() < 0.01) samples.hexes.push(h);
      return { url: `https://hooks.example.com/${h}`, event: 'order.created', orderId: 1 + int(r, 5_000_000) };
    }
    case 'invoice':
      return { invoiceId: `INV-${1 + int(r, 900_000)}`, amountCents: int(r, 100_000), currency: r() < 0.7 ? 'EUR' : 'USD', user };
    case 'report':
      return { month: `2026-${String(1 + int(r, 12)).padStart(2, '0')}`, account: 1 + int(r, 5000) };
    default:
      return { account: 1 + int(r, 5000), since: '2026-11-01T00:00:00.000Z' };
  }
}

function logsFor(r: Rng, task: string): string[] | null {
  if (r() >= 0.25) return null;
  const lines = [
    `fetched ${int(r, 5_000_000)} bytes`,
    task === 'email' ? `sending via smtp relay ${1 + int(r, 4)}` : `step ${1 + int(r, 9)} of 9`,
    'retrying after backoff',
    `resized to ${400 + int(r, 1600)}x${300 + int(r, 1200)}`,
    `cache ${r() < 0.5 ? 'hit' : 'miss'} for key ${b36(r, 8)}`,
  ];
  return lines.slice(0, 1 + int(r, lines.length));
}

export interface Samples {
  users: number[];
  ids: string[];
  hexes: string[];
}

/** `count` rows starting at index `from` of `total`, enqueued evenly over the 30 days before `now`. */
export function makeRuns(r: Rng, from: number, count: number, total: number, now: number, samples: Samples): Record<string, unknown>[] {
  const span = 30 * 86_400_000;
  const out: Record<string, unknown>[] = [];
  for (let i = from; i < from + count; i++) {
    const { task, queue } = weighted(r, TASKS);
    const { state } = weighted(r, STATES);
    const enqueued = now - span + Math.floor((i / total) * span);
    const id = `${enqueued.toString(36)}${b36(r, 6)}`;
    if (samples.ids.length < 200 && r() < 0.01) samples.ids.push(id);
    const payload = payloadFor(r, task, samples);
    const startedAt = state === 'waiting' || state === 'delayed' ? null : enqueued + int(r, 2000);
    const runtime = 20 + int(r, r() < 0.9 ? 800 : 60_000);
    const final = ['completed', 'failed', 'cancelled', 'expired', 'lost'].includes(state);
    const failing = state === 'failed' || state === 'retrying' || state === 'lost';
    const attempts = failing ? 1 + int(r, 3) : 1;
    const error = failing ? errorFor(r, task, payload) : null;
    const errors = failing
      ? JSON.stringify(
          Array.from({ length: attempts }, (_, a) => ({ attempt: a + 1, error, at: new Date(enqueued + a * 1000).toISOString() })),
        )
      : null;
    let result: string | null = null;
    if (state === 'completed') {
      result =
        task === 'resize' || task === 'thumbnail'
          ? JSON.stringify({ width: 800, height: 450 + int(r, 300), bytes: 20_000 + int(r, 200_000) })
          : task === 'email'
            ? JSON.stringify({ messageId: `<${hex(r, 16)}@mail.example.com>` })
            : JSON.stringify({ ok: true });
    }
    const logs = logsFor(r, task);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    out.push({
      job_id: id,
      task,
      queue,
      payload: JSON.stringify(payload),
      state,
      result,
      error,
      attempt: startedAt === null ? 0 : attempts,
      worker: startedAt === null ? null : `worker-${1 + int(r, 8)}.${1000 + int(r, 9000)}`,
      enqueued_at: iso(enqueued),
      started_at: iso(startedAt),
      finished_at: final && startedAt !== null ? iso(startedAt + runtime) : null,
      runtime_ms: final && startedAt !== null ? runtime : null,
      errors,
      logs: logs ? JSON.stringify(logs) : null,
      updated_at: iso(enqueued + runtime),
    });
  }
  return out;
}
