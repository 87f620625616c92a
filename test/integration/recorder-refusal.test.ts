import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEventSource } from '../../src/core/run-events.js';
import type { TaskLogger } from '../../src/core/task.js';
import { openDatabase, openStore, Recorder } from '../../src/store/index.js';

const emptyStream: RunEventSource = {
  read: async () => [],
  info: async () => ({ firstId: undefined, lastId: undefined, length: 0, entriesAdded: 0, maxDeletedId: undefined }),
};

function capture(): { logger: TaskLogger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = { info: () => undefined, warn: (m: string) => warnings.push(m), error: () => undefined } as unknown as TaskLogger;
  return { logger, warnings };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A recorder that does not hold the lease checks it every `leaseMs / 3`; another process's
 * write lock makes a check fail with SQLITE_BUSY now and then (ordinary contention). Only a
 * lock that lasts `refusalWarnMs` without a break is worth a warning.
 */
describe('a recorder that does not hold the lease, under brief write locks', () => {
  function setup() {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tq-refusal-')), 'tq.db');
    const holder = openStore(file);
    // The lease holder: takes the lease for a minute and does nothing else.
    expect(new Recorder(holder.db, emptyStream, { leaseMs: 60_000 }).acquireLease()).toBe(true);
    const db = openDatabase(file);
    db.pragma('busy_timeout = 0');
    const { logger, warnings } = capture();
    const follower = new Recorder(db, emptyStream, { leaseMs: 150, refusalWarnMs: 800, logger });
    const lock = openDatabase(file);
    const hold = async (ms: number) => {
      lock.exec('BEGIN IMMEDIATE');
      await pause(ms);
      lock.exec('COMMIT');
    };
    const close = () => [holder.db, db, lock].forEach((d) => d.close());
    return { follower, warnings, hold, close };
  }

  it('two brief locks far apart are two episodes, not one long one: no warning', async () => {
    const { follower, warnings, hold, close } = setup();
    follower.start();
    try {
      await hold(300);
      await pause(1200);
      await hold(300);
      await pause(200);
    } finally {
      await follower.close();
      close();
    }
    expect(warnings).toEqual([]);
  });

  it('one lock that lasts past the threshold is warned about once', async () => {
    const { follower, warnings, hold, close } = setup();
    follower.start();
    try {
      await hold(1500);
      await pause(200);
    } finally {
      await follower.close();
      close();
    }
    expect(warnings).toEqual([
      'history recorder: the history database is locked by another process (SQLITE_BUSY); runs go on, and history catches up once it is free',
    ]);
  });
});
