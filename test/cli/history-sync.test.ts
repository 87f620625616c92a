import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/run-events.js';
import { openStore } from '../../src/store/store.js';
import { TQ_BIN, makeProject } from '../helpers/cli.js';
import { query } from '../helpers/project.js';

const CONFIG = `import { defineConfig, defineTask } from 'tq';
export default defineConfig({ tasks: { t: defineTask({ run: async () => 1 }) } });
`;
const T = Date.parse('2026-03-01T10:00:00.000Z');
const ev = (type: RunEvent['type'], jobId: string, at: number, extra: Partial<RunEvent> = {}): RunEvent => ({
  type,
  jobId,
  task: 't',
  queue: 'default',
  at,
  attempt: type === 'enqueued' ? 0 : 1,
  ...extra,
});

/** Writes runs into a database file the way a recorder would. */
function record(file: string, prefix: string, events: RunEvent[], images: { id: string; status: string }[] = []): void {
  const store = openStore(file, { prefix });
  try {
    store.db.transaction(() => store.runs.apply(events)).immediate();
    for (const image of images) {
      store.records.images.insert({
        id: image.id,
        original_path: `original/${image.id}.jpg`,
        bytes: 10,
        uploaded_at: new Date(T).toISOString(),
      });
      store.records.images.update(image.id, { status: image.status as 'pending' });
    }
  } finally {
    store.close();
  }
}

describe('tq history sync --from OTHER.db', () => {
  it("fills this host's history from another host's file, only forward, and a second run changes nothing", async () => {
    const project = makeProject(CONFIG);
    const here = project.dbFile;
    const other = path.join(project.dir, 'other-host.db');
    // This host was offline: it saw `late` enqueued and `ahead-here` complete; nothing of `missing`.
    record(
      here,
      project.prefix,
      [
        ev('enqueued', 'late', T, { payload: { n: 1 } }),
        ev('enqueued', 'ahead-here', T),
        ev('active', 'ahead-here', T + 1),
        ev('completed', 'ahead-here', T + 2, { result: 'done here' }),
        ev('enqueued', 'no-payload', T),
      ],
      [{ id: 'img_a', status: 'pending' }],
    );
    // The other host saw more of `late`, less of `ahead-here`, all of `missing`.
    record(
      other,
      project.prefix,
      [
        ev('enqueued', 'late', T, { payload: { n: 1 } }),
        ev('active', 'late', T + 1, { worker: 'w2' }),
        ev('failed', 'late', T + 5, { error: 'disk full', worker: 'w2' }),
        ev('enqueued', 'ahead-here', T),
        ev('active', 'ahead-here', T + 1),
        ev('enqueued', 'missing', T, { payload: { n: 3 } }),
        ev('active', 'missing', T + 1),
        ev('completed', 'missing', T + 3, { result: 42 }),
        ev('enqueued', 'no-payload', T, { payload: { found: 'there' } }),
      ],
      [
        { id: 'img_a', status: 'processed' },
        { id: 'img_b', status: 'processed' },
      ],
    );

    const first = await project.run(['history', 'sync', '--from', 'other-host.db', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      runs: { inserted: 1, updated: 1, filled: 1, unchanged: 1 },
      images: { inserted: 1, updated: 1, unchanged: 0 },
    });
    const rows = Object.fromEntries(
      query<{ job_id: string; state: string; error: string | null; payload: string | null; result: string | null }>(
        here,
        'SELECT job_id, state, error, payload, result FROM task_runs',
      ).map((r) => [r.job_id, r]),
    );
    expect(rows.late).toMatchObject({ state: 'failed', error: 'disk full' });
    expect(rows['ahead-here']).toMatchObject({ state: 'completed', result: '"done here"' });
    expect(rows.missing).toMatchObject({ state: 'completed', result: '42', payload: '{"n":3}' });
    expect(rows['no-payload']).toMatchObject({ state: 'waiting', payload: '{"found":"there"}' });
    expect(query(here, 'SELECT id, status FROM images ORDER BY id')).toEqual([
      { id: 'img_a', status: 'processed' },
      { id: 'img_b', status: 'processed' },
    ]);

    const again = await project.run(['history', 'sync', '--from', 'other-host.db', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      runs: { inserted: 0, updated: 0, filled: 0, unchanged: 4 },
      images: { inserted: 0, updated: 0, unchanged: 2 },
    });

    const text = await project.run(['history', 'sync', '--from', 'other-host.db']);
    expect(text.stdout).toMatch(/runs: 0 added, 0 moved forward, 0 filled in, 4 already current/);
  });

  it("copies only this prefix's runs and records, as this prefix's, so its readers see them", async () => {
    const project = makeProject(CONFIG);
    const other = path.join(project.dir, 'other-host.db');
    // Another host's file shared by two prefixes: ours and another application's.
    record(other, project.prefix, [ev('enqueued', 'ours', T, { payload: { n: 1 } })], [{ id: 'img_ours', status: 'processed' }]);
    record(other, 'someone-else', [ev('enqueued', 'theirs', T)], [{ id: 'img_theirs', status: 'processed' }]);

    const sync = await project.run(['history', 'sync', '--from', 'other-host.db', '--json']);
    expect(sync.code, sync.stderr).toBe(0);
    expect(JSON.parse(sync.stdout)).toMatchObject({ runs: { inserted: 1 }, images: { inserted: 1 } });
    expect(query(project.dbFile, 'SELECT job_id, prefix FROM task_runs')).toEqual([{ job_id: 'ours', prefix: project.prefix }]);
    expect(query(project.dbFile, 'SELECT id, prefix FROM images')).toEqual([{ id: 'img_ours', prefix: project.prefix }]);

    const listed = await project.run(['inspect', 'history', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).runs.map((r: { id: string }) => r.id)).toEqual(['ours']);
  });

  it('refuses a missing file and its own file with one line and exit 2; a closed pipe ends it quietly', async () => {
    const project = makeProject(CONFIG);
    record(project.dbFile, project.prefix, [ev('enqueued', 'x', T)]);
    const missing = await project.run(['history', 'sync', '--from', 'nope.db']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tq: no such file: .*nope\.db/)]);
    const own = await project.run(['history', 'sync', '--from', project.dbFile, '--json']);
    expect(own.code).toBe(2);
    expect(JSON.parse(own.stdout).error.message).toMatch(/this host's own database/);
    const none = await project.run(['history', 'sync']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/needs --from/);

    // The reader is gone before tq writes (`true` reads nothing): the write meets EPIPE.
    const other = path.join(project.dir, 'o.db');
    record(other, project.prefix, [ev('enqueued', 'y', T)]);
    const piped = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${TQ_BIN}" history sync --from o.db --json | true`], {
      cwd: project.dir,
      env: { ...process.env, ...project.env },
      encoding: 'utf8',
    });
    expect(piped.status).toBe(0);
    expect(piped.stderr).toBe('');
  });
});
