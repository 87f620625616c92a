import { describe, expect, it } from 'vitest';
import { makeProject, stopAfterTest } from '../helpers/cli.js';
import { bullQueue, eventually, query } from '../helpers/project.js';

const config = (schedules: string, extra = '') => `import { defineConfig, defineTask } from 'tq';
export default defineConfig({
  ${extra}
  tasks: { hello: defineTask({ args: ['name'], run: async ({ name }: { name: string }) => \`hello \${name}\` }) },
  schedules: ${schedules},
});
`;

const dispatched = (output: string) => [...output.matchAll(/-> hello run (beat-\S+) on default/g)].map((m) => m[1]!);

describe('tq beat --dry-run', () => {
  it('prints the next fire times of every schedule in its zone, from a fixed clock (--from)', async () => {
    const project = makeProject(
      config(
        `{
    nightly: { task: 'hello', cron: '0 3 * * *' },
    'ny-early': { task: 'hello', cron: '30 1 * * *', tz: 'America/New_York', missed: 'all' },
    heartbeat: { task: 'hello', every: '90s', payload: { name: 'beat' } },
    paused: { task: 'hello', cron: '@weekly', enabled: false },
  }`,
        "timezone: 'Asia/Seoul',",
      ),
    );
    const res = await project.run(['beat', '--dry-run', '--count', '2', '--from', '2026-10-31T12:00:00Z']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`heartbeat -> hello: every 90s in Asia/Seoul (slots aligned to the Unix epoch)
  2026-10-31 21:01:30 +09:00 Sat
  2026-10-31 21:03:00 +09:00 Sat

nightly -> hello: 0 3 * * * in Asia/Seoul
  2026-11-01 03:00:00 +09:00 Sun
  2026-11-02 03:00:00 +09:00 Mon

ny-early -> hello: 30 1 * * * in America/New_York
  2026-11-01 01:30:00 -04:00 Sun
  2026-11-02 01:30:00 -05:00 Mon

paused -> hello: @weekly in Asia/Seoul (disabled: would not fire)
  2026-11-01 00:00:00 +09:00 Sun
  2026-11-08 00:00:00 +09:00 Sun
`);
  });

  it('refuses --count without --dry-run, and a bad --from (exit 2)', async () => {
    const project = makeProject(config(`{ nightly: { task: 'hello', cron: '0 3 * * *' } }`));
    const a = await project.run(['beat', '--count', '3']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--count only works with --dry-run/);
    const b = await project.run(['beat', '--dry-run', '--from', 'yesterday']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--from "yesterday" is not a date/);
  });
});

describe('tq beat: config errors (exit 2) name the schedule', () => {
  it('a bad cron names the schedule and the expression', async () => {
    const project = makeProject(config(`{ nightly: { task: 'hello', cron: '61 3 * * *' } }`));
    const res = await project.run(['beat']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^tq: tasks\.config\.ts: schedules\.nightly\.cron: "61 3 \* \* \*" is not a valid cron expression/);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('an unknown task names the schedule and the known tasks', async () => {
    const project = makeProject(config(`{ nightly: { task: 'nope', every: '1h' } }`));
    const res = await project.run(['beat', '--dry-run']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/schedules\.nightly\.task: "nope" is not a defined task \(defined: hello\)/);
  });
});

describe('tq beat', () => {
  it('two beat processes side by side enqueue each fire time of an every-1s schedule exactly once', async () => {
    const project = makeProject(config(`{ tick: { task: 'hello', every: '1s', payload: { name: 'tick' } } }`));
    const a = stopAfterTest(project.spawn(['beat']));
    const b = stopAfterTest(project.spawn(['beat']));
    await Promise.all([a.waitFor(/tq beat ready/), b.waitFor(/tq beat ready/)]);
    await eventually(() => dispatched(a.output).length + dispatched(b.output).length >= 5, 15_000, '5 dispatches');
    // History: the beats' recorder writes them into SQLite while they run.
    const early = [...dispatched(a.output), ...dispatched(b.output)];
    const rowsOf = () =>
      query<{ job_id: string; task: string; state: string; payload: string }>(
        project.dbFile,
        "SELECT job_id, task, state, payload FROM task_runs WHERE job_id LIKE 'beat-tick-%'",
      );
    await eventually(() => early.every((id) => rowsOf().some((r) => r.job_id === id)), 10_000, 'history rows');
    for (const r of rowsOf()) expect(r).toMatchObject({ task: 'hello', state: 'waiting', payload: '{"name":"tick"}' });
    const [codeA, codeB] = await Promise.all([a.stop(), b.stop()]);
    expect([codeA, codeB]).toEqual([0, 0]);

    const fromLogs = [...dispatched(a.output), ...dispatched(b.output)];
    expect(new Set(fromLogs).size).toBe(fromLogs.length);
    const queue = bullQueue(project, 'default');
    try {
      const ids = (await queue.getJobs(['waiting'])).map((j) => j.id!).sort();
      expect(ids).toEqual([...fromLogs].sort());
      // Consecutive seconds, none twice, none skipped.
      const seconds = ids.map((id) => Number(/^beat-tick-(\d+)$/.exec(id)![1]));
      for (const s of seconds) expect(s % 1000).toBe(0);
      expect(seconds.at(-1)! - seconds[0]!).toBe((seconds.length - 1) * 1000);
    } finally {
      await queue.close();
    }
  });

  it('prints a banner with each schedule and its next fire time, and exits 0 promptly on SIGTERM', async () => {
    const project = makeProject(
      config(`{ nightly: { task: 'hello', cron: '0 3 * * *', tz: 'Asia/Seoul' }, off: { task: 'hello', every: '1h', enabled: false } }`),
    );
    const beat = stopAfterTest(project.spawn(['beat']));
    await beat.waitFor(/nightly: new schedule/);
    expect(beat.output).toMatch(/schedule +task +expression +zone +missed +next fire/);
    expect(beat.output).toMatch(/nightly +hello +0 3 \* \* \* +Asia\/Seoul +latest +\d{4}-\d\d-\d\d 03:00:00 \+09:00/);
    expect(beat.output).toMatch(/off +hello +every 1h +\S+ +latest +disabled/);
    const t = Date.now();
    beat.kill('SIGTERM');
    expect(await beat.exited).toBe(0);
    expect(Date.now() - t).toBeLessThan(3000);
    expect(beat.output).toMatch(/SIGTERM: beat stopping/);
    expect(beat.output).toMatch(/stopped \(enqueued 0 run\(s\)\)/);
  });

  it('tq dev runs beat too: a scheduled run is enqueued and done in one process', async () => {
    const project = makeProject(config(`{ tick: { task: 'hello', every: '1s', payload: { name: 'dev' } } }`));
    const dev = stopAfterTest(project.spawn(['dev']));
    await dev.waitFor(/tq dev beat: 1 schedule/);
    await dev.waitFor(/tick -> hello run beat-tick-\d+ on default/);
    await dev.waitFor(/hello\[\d+\] succeeded .*"hello dev"/);
    expect(await dev.stop()).toBe(0);
  });
});
