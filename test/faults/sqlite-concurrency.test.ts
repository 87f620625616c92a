import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stopAfterTest } from '../helpers/cli.js';
import { eventually, query } from '../helpers/project.js';
import { faultsProject, producerFor, report } from './helpers.js';

describe('SQLite under concurrency', () => {
  it('4 worker processes and two inspect loops on one file, 2,000 runs: no SQLITE_BUSY, 2,000 history rows', async () => {
    const project = faultsProject();
    const workers = [1, 2, 3, 4].map((i) => {
      const p = project.spawn(['worker', '-Q', 'default', '-c', '8', '-n', `w${i}`]);
      stopAfterTest(p);
      return p;
    });
    await Promise.all(workers.map((w) => w.waitFor(/ready/)));
    const producer = await producerFor(project);
    // 200 ms runs over 32 slots: the files are written for ~13 s while inspect reads them.
    await producer.enqueueMany(Array.from({ length: 2000 }, () => ({ task: 'work', payload: {} })));
    await producer.close();
    let inspections = 0;
    let stop = false;
    const outputs: string[] = [];
    // Two readers at once: on a loaded host a CLI process takes seconds to start, and one loop
    // alone may finish fewer inspections than the writes take.
    const loop = async () => {
      while (!stop) {
        const res = await project.run(['inspect', 'history', '--json', '--limit', '5']);
        outputs.push(res.stderr);
        expect(res.code).toBe(0);
        inspections += 1;
      }
    };
    const loops = [loop(), loop()];
    await eventually(
      () => query<{ n: number }>(project.dbFile, "SELECT count(*) AS n FROM task_runs WHERE state = 'completed'")[0]!.n === 2000,
      90_000,
      '2000 completed rows',
    );
    stop = true;
    await Promise.all(loops);
    expect(inspections).toBeGreaterThanOrEqual(5);
    const rows = query<{ n: number }>(project.dbFile, 'SELECT count(*) AS n FROM task_runs')[0]!.n;
    expect(rows).toBe(2000);
    const all = workers.map((w) => w.output).join('\n') + outputs.join('\n');
    expect(all).not.toMatch(/SQLITE_BUSY|database is locked/i);
    report(`SQLite: 4 workers + ${inspections} inspect runs on one file, 2000 runs -> 2000 rows, 0 SQLITE_BUSY`);
  }, 150_000);

  it('a corrupt database file gives one clear line and exit 1, not a crash loop', async () => {
    const project = faultsProject();
    fs.mkdirSync(project.file('.tq'), { recursive: true });
    fs.writeFileSync(project.dbFile, Buffer.alloc(8192, 0x41));
    const worker = await project.run(['worker']);
    expect(worker.code).toBe(1);
    expect(worker.stderr.trim().split('\n')).toHaveLength(1);
    expect(worker.stderr).toMatch(/^tq: cannot (open|use) the database .*\.db: .* — /);
    const inspect = await project.run(['inspect', 'history']);
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toMatch(/not a tq database|corrupt|not a database/i);
  });
});
