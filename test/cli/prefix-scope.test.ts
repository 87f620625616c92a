import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { stopAfterTest } from '../helpers/cli.js';
import { appProject, query } from '../helpers/project.js';

const json = (text: string) => JSON.parse(text) as { runs: { id: string }[]; totals: { total: number } };

describe('history is scoped by prefix', () => {
  it('another prefix sees none of this prefix’s runs: inspect history, monitor --once and the client readers, in its own file and in a shared one', async () => {
    const project = appProject();
    const other = `o${randomBytes(4).toString('hex')}`;
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
    await worker.waitFor(/ready/);
    const done = await project.run(['enqueue', 'hello', 'scoped', '--wait', '--json']);
    expect(done.code).toBe(0);
    const id = (JSON.parse(done.stdout) as { id: string }).id;

    // The run's own prefix sees it, in its default file `.tq/<prefix>.db`.
    expect(path.basename(project.dbFile)).toBe(`${project.prefix}.db`);
    const mine = json((await project.run(['inspect', 'history', '--json'])).stdout);
    expect(mine.runs.map((r) => r.id)).toEqual([id]);
    expect(query<{ prefix: string }>(project.dbFile, 'SELECT prefix FROM task_runs WHERE job_id = ?', id)).toEqual([
      { prefix: project.prefix },
    ]);

    // Another prefix: its own default file, and nothing of the first prefix's history.
    const theirs = await project.run(['--prefix', other, 'inspect', 'history', '--json']);
    expect(theirs.code).toBe(0);
    expect(json(theirs.stdout)).toMatchObject({ runs: [], totals: { total: 0 } });
    const theirMonitor = await project.run(['--prefix', other, 'monitor', '--once']);
    expect(theirMonitor.code).toBe(0);
    expect(theirMonitor.stdout).not.toContain(id);
    expect((await project.run(['monitor', '--once'])).stdout).toContain(id);

    // The same file shared on purpose (--db): rows carry their prefix and every reader filters.
    const shared = await project.run(['--prefix', other, '--db', project.dbFile, 'inspect', 'history', '--json']);
    expect(json(shared.stdout)).toMatchObject({ runs: [], totals: { total: 0 } });
    expect((await project.run(['--prefix', other, '--db', project.dbFile, 'monitor', '--once'])).stdout).not.toContain(id);
    const inspectTask = await project.run(['--prefix', other, '--db', project.dbFile, 'inspect', 'task', id]);
    expect(inspectTask.code).toBe(1);

    const config = project.file('tasks.config.ts');
    const theirClient = createClient(config, { redis: project.redisUrl, prefix: other, db: project.dbFile });
    const myClient = createClient(config, { redis: project.redisUrl, prefix: project.prefix });
    try {
      expect(await theirClient.history.search()).toEqual([]);
      expect(await theirClient.history.get(id)).toBeUndefined();
      expect(await theirClient.run(id).state()).toBe('unknown');
      expect((await myClient.history.search()).map((r) => r.id)).toEqual([id]);
      expect(await myClient.history.get(id)).toMatchObject({ id, state: 'completed', result: 'hello scoped' });
    } finally {
      await theirClient.close();
      await myClient.close();
    }
  });
});
