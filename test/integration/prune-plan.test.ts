import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, pruneInChunks } from '../../src/store/index.js';
import { createTaskRunsRepository } from '../../src/store/task-runs.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-prune-plan-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('pruning in chunks', () => {
  it("reads a chunk's oldest finished runs through the finished_at index, not every finished run", () => {
    const store = openStore(path.join(dir, 'tq.db'));
    try {
      // The statements the repository prepares, to ask SQLite how it runs the chunk's.
      const prepared: string[] = [];
      const db = new Proxy(store.db, {
        get(target, key) {
          if (key === 'prepare')
            return (sql: string) => {
              prepared.push(sql);
              return target.prepare(sql);
            };
          const value = Reflect.get(target, key, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      createTaskRunsRepository(db);
      const chunk = prepared.find((sql) => sql.startsWith('DELETE') && sql.includes('LIMIT'));
      expect(chunk).toBeDefined();
      // As SQLite plans it without statistics (a file no ANALYZE ran on).
      const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${chunk!}`).all('2026-01-01T00:00:00.000Z', 'tq', 100) as { detail: string }[])
        .map((r) => r.detail)
        .join('\n');
      expect(plan).toContain('USING INDEX task_runs_finished');
      expect(plan).not.toContain('TEMP B-TREE');
      expect(plan).not.toContain('task_runs_state');
    } finally {
      store.close();
    }
  });
});

describe('pruneInChunks sizing', () => {
  it('starts with a small chunk and shrinks to a few rows when rows are slow', () => {
    let t = 0;
    let left = 10_000;
    const sizes: number[] = [];
    const report = pruneInChunks(
      (limit) => {
        sizes.push(limit);
        const n = Math.min(limit, left);
        left -= n;
        t += n * 2; // cold: 2 ms a row
        return n;
      },
      { now: () => t, chunkMs: 25, budgetMs: 400 },
    );
    expect(sizes[0]).toBe(20);
    expect(sizes.at(-1)).toBe(13); // 25 ms at 2 ms a row
    expect(report.longestMs).toBeLessThanOrEqual(40);
  });
});
