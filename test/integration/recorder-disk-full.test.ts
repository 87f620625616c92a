import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent, RunEventSource, StreamEntry } from '../../src/core/run-events.js';
import { fileRefusal, openStore, Recorder } from '../../src/store/index.js';

/** A stream of `count` entries of one big event each (enough to fill a capped file). */
function bigStream(count: number): RunEventSource {
  const entries: StreamEntry[] = Array.from({ length: count }, (_, i) => ({
    id: `${1000 + i}-0`,
    events: [
      {
        type: 'enqueued',
        jobId: `j${i}`,
        task: 't',
        queue: 'q',
        at: 1000 + i,
        attempt: 0,
        payload: { blob: 'x'.repeat(4000) },
      } as RunEvent,
    ],
  }));
  return {
    read: async (after, n) => entries.filter((e) => Number(e.id.split('-')[0]) > Number(after.split('-')[0])).slice(0, n),
    info: async () => ({
      firstId: entries[0]!.id,
      lastId: entries[entries.length - 1]!.id,
      length: entries.length,
      entriesAdded: entries.length,
      maxDeletedId: undefined,
    }),
  };
}

describe('a full disk under the history database', () => {
  it('surfaces SQLITE_FULL (not "cannot rollback - no transaction is active") and keeps the file consistent', async () => {
    const store = openStore(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tq-full-')), 'tq.db'));
    try {
      // The file may not grow past its current size plus a little: as if the disk were full.
      const pages = store.db.pragma('page_count', { simple: true }) as number;
      store.db.pragma(`max_page_count = ${pages + 20}`);
      const recorder = new Recorder(store.db, bigStream(200), { batchSize: 50 });
      const err = await recorder.catchUp().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect((err as { code?: string }).code).toBe('SQLITE_FULL');
      expect((err as Error).message).not.toMatch(/cannot rollback/);
      expect(fileRefusal(err)?.text).toBe('the disk holding the history database is full (SQLITE_FULL)');
      // Nothing half-applied: the stored position matches the rows.
      expect(store.db.inTransaction).toBe(false);
      const rows = (store.db.prepare('SELECT count(*) AS n FROM task_runs').get() as { n: number }).n;
      const last = recorder.lastId;
      expect(rows).toBe(last === '0-0' ? 0 : Number(last.split('-')[0]) - 999);
    } finally {
      store.close();
    }
  });
});
