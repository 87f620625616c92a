import { describe, expect, it } from 'vitest';
import {
  dueFireTimes,
  nextFireAfter,
  nextFireTimes,
  resolveSchedule,
  scheduleProblems,
  type ResolvedSchedule,
} from '../../src/beat/schedule.js';
import { decodeScheduleName, encodeScheduleName, parseScheduleRunId, scheduleRunId } from '../../src/beat/run-id.js';
import { formatInZone } from '../../src/beat/zone.js';
import { isTimeZone } from '../../src/core/names.js';
import type { ScheduleDefinition } from '../../src/core/task.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const schedule = (def: Omit<ScheduleDefinition, 'task'>, zone = 'UTC', name = 's'): ResolvedSchedule =>
  resolveSchedule(name, { task: 't', ...def }, zone);
const next = (s: ResolvedSchedule, from: string, n: number) => nextFireTimes(s, at(from), n).map((t) => iso(t));

describe('cron fire times, in the schedule zone', () => {
  it('reads the fields in Asia/Seoul (UTC+9, no DST) and in America/New_York', () => {
    const seoul = schedule({ cron: '0 3 * * *' }, 'Asia/Seoul');
    expect(next(seoul, '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-01T18:00:00.000Z', '2026-01-02T18:00:00.000Z']);
    const ny = schedule({ cron: '0 3 * * *', tz: 'America/New_York' }, 'Asia/Seoul');
    expect(ny.zone).toBe('America/New_York');
    expect(next(ny, '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T08:00:00.000Z']);
  });

  it('is strictly after the instant given, to the millisecond', () => {
    const s = schedule({ cron: '0 3 * * *' });
    expect(iso(nextFireAfter(s, at('2026-01-05T03:00:00.000Z')))).toBe('2026-01-06T03:00:00.000Z');
    expect(iso(nextFireAfter(s, at('2026-01-05T02:59:59.999Z')))).toBe('2026-01-05T03:00:00.000Z');
  });

  it('takes 6 fields (leading seconds) and @ aliases', () => {
    expect(next(schedule({ cron: '*/20 * * * * *' }), '2026-01-01T00:00:00.500Z', 3)).toEqual([
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
    expect(next(schedule({ cron: '@daily' }, 'Asia/Seoul'), '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T15:00:00.000Z']);
    expect(next(schedule({ cron: '@hourly' }), '2026-01-01T00:30:00Z', 1)).toEqual(['2026-01-01T01:00:00.000Z']);
  });

  it('gives H fields the same value in every process (seeded by the schedule name)', () => {
    const a = nextFireAfter(schedule({ cron: 'H H * * *' }, 'UTC', 'nightly'), at('2026-01-01T00:00:00Z'));
    const b = nextFireAfter(schedule({ cron: 'H H * * *' }, 'UTC', 'nightly'), at('2026-01-01T00:00:00Z'));
    expect(a).toBe(b);
  });
});

describe('cron across DST changes (America/New_York, as cron-parser defines them)', () => {
  const ny = (cron: string) => schedule({ cron }, 'America/New_York');

  it('spring forward (2026-03-08, 02:00 -> 03:00): a fixed hour keeps its wall-clock time', () => {
    expect(next(ny('0 3 * * *'), '2026-03-07T12:00:00Z', 2)).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T07:00:00.000Z']);
  });

  it('spring forward: a time that does not exist that night (02:30) fires an hour later, at 03:30 EDT, once', () => {
    const times = nextFireTimes(ny('30 2 * * *'), at('2026-03-07T12:00:00Z'), 3);
    expect(times.map((t) => formatInZone(t, 'America/New_York'))).toEqual([
      '2026-03-08 03:30:00 -04:00',
      '2026-03-09 02:30:00 -04:00',
      '2026-03-10 02:30:00 -04:00',
    ]);
  });

  it('fall back (2026-11-01, 02:00 -> 01:00): a time that happens twice (01:30) fires once, the first time', () => {
    const times = nextFireTimes(ny('30 1 * * *'), at('2026-10-31T12:00:00Z'), 2);
    expect(times.map((t) => formatInZone(t, 'America/New_York'))).toEqual(['2026-11-01 01:30:00 -04:00', '2026-11-02 01:30:00 -05:00']);
  });

  it('fall back: an hourly schedule fires every real hour, both 01:00s included', () => {
    const times = nextFireTimes(ny('0 * * * *'), at('2026-11-01T03:30:00Z'), 4);
    expect(times.map((t) => formatInZone(t, 'America/New_York'))).toEqual([
      '2026-11-01 00:00:00 -04:00',
      '2026-11-01 01:00:00 -04:00',
      '2026-11-01 01:00:00 -05:00',
      '2026-11-01 02:00:00 -05:00',
    ]);
  });

  it('catching up over the fall-back night sees the same single 01:30 as a running beat', () => {
    const s = ny('30 1 * * *');
    const due = dueFireTimes(s, at('2026-10-31T12:00:00Z'), at('2026-11-01T12:00:00Z'), 10);
    expect(due.times.map((t) => iso(t))).toEqual(['2026-11-01T05:30:00.000Z']);
    expect(due.count).toBe(1);
    expect(iso(due.next)).toBe('2026-11-02T06:30:00.000Z');
  });
});

describe('every: slots aligned to the Unix epoch', () => {
  it('fires at multiples of the period since 1970-01-01T00:00:00Z, whatever the zone', () => {
    expect(next(schedule({ every: '30s' }), '2026-01-01T12:00:10.500Z', 3)).toEqual([
      '2026-01-01T12:00:30.000Z',
      '2026-01-01T12:01:00.000Z',
      '2026-01-01T12:01:30.000Z',
    ]);
    expect(next(schedule({ every: '1h' }, 'Asia/Kolkata'), '2026-01-01T12:00:00Z', 2)).toEqual([
      '2026-01-01T13:00:00.000Z',
      '2026-01-01T14:00:00.000Z',
    ]);
    const sevenMinutes = nextFireTimes(schedule({ every: '7m' }), at('2026-01-01T12:00:00Z'), 5);
    for (const t of sevenMinutes) expect(t % 420_000).toBe(0);
    expect(sevenMinutes[1]! - sevenMinutes[0]!).toBe(420_000);
  });

  it('takes a number of milliseconds too', () => {
    expect(next(schedule({ every: 5000 }), '2026-01-01T00:00:01Z', 1)).toEqual(['2026-01-01T00:00:05.000Z']);
  });

  it('does not let the zone change the spec (two beats in different zones agree)', () => {
    expect(schedule({ every: '5m' }, 'UTC').spec).toBe(schedule({ every: '5m' }, 'Asia/Seoul').spec);
    expect(schedule({ cron: '0 3 * * *' }, 'UTC').spec).not.toBe(schedule({ cron: '0 3 * * *' }, 'Asia/Seoul').spec);
  });
});

describe('dueFireTimes: what is due between the cursor and now', () => {
  it('every: counts the slots in (cursor, now] and keeps the latest', () => {
    const s = schedule({ every: '1m' });
    const due = dueFireTimes(s, at('2026-01-01T12:00:00Z'), at('2026-01-01T12:03:40Z'), 2);
    expect(due).toEqual({
      times: [at('2026-01-01T12:02:00Z'), at('2026-01-01T12:03:00Z')],
      count: 3,
      exact: true,
      next: at('2026-01-01T12:04:00Z'),
    });
    expect(dueFireTimes(s, at('2026-01-01T12:00:00Z'), at('2026-01-01T12:00:59Z'), 1)).toMatchObject({ times: [], count: 0 });
  });

  it('cron: a fire time equal to the cursor is not due again; one equal to now is', () => {
    const s = schedule({ cron: '*/5 * * * *' });
    const due = dueFireTimes(s, at('2026-01-01T12:00:00Z'), at('2026-01-01T12:10:00Z'), 5);
    expect(due.times.map((t) => iso(t))).toEqual(['2026-01-01T12:05:00.000Z', '2026-01-01T12:10:00.000Z']);
    expect(due.exact).toBe(true);
  });

  it('cron: a long backlog (every second for a day) is cut short but still ends at the latest fire time', () => {
    const s = schedule({ cron: '* * * * * *' });
    const started = performance.now();
    const due = dueFireTimes(s, at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00.400Z'), 3);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(due.times.map((t) => iso(t))).toEqual(['2026-01-01T23:59:58.000Z', '2026-01-01T23:59:59.000Z', '2026-01-02T00:00:00.000Z']);
    expect(due.exact).toBe(false);
    expect(due.count).toBeGreaterThanOrEqual(5000);
    expect(iso(due.next)).toBe('2026-01-02T00:00:01.000Z');
  });
});

describe('scheduleProblems: every problem names its key and the value', () => {
  const problems = (raw: unknown, name = 'nightly') => scheduleProblems(name, raw).map((p) => `${p.key}: ${p.message}`);

  it('accepts a good definition', () => {
    expect(
      problems({
        task: 't',
        cron: '0 3 * * *',
        tz: 'Europe/Paris',
        missed: 'all',
        enabled: false,
        priority: 3,
        queue: 'q',
        payload: { a: 1 },
      }),
    ).toEqual([]);
    expect(problems({ task: 't', every: '90s' })).toEqual([]);
  });

  it('names the schedule and the expression of a bad cron', () => {
    expect(problems({ task: 't', cron: '61 * * * *' })).toEqual([
      expect.stringMatching(/^schedules\.nightly\.cron: "61 \* \* \* \*" is not a valid cron expression: .*59/),
    ]);
    expect(problems({ task: 't', cron: '* * *' })[0]).toMatch(/^schedules\.nightly\.cron: "\* \* \*" has 3 field\(s\)/);
    expect(problems({ task: 't', cron: '@fortnightly' })[0]).toMatch(/"@fortnightly" is not a known alias \(use one of @yearly/);
    expect(problems({ task: 't', cron: '0 0 31 2 *' })[0]).toMatch(/"0 0 31 2 \*" is not a valid cron expression/);
    expect(problems({ task: 't', cron: '' })[0]).toMatch(/cron: is empty/);
  });

  it('wants exactly one of cron and every', () => {
    expect(problems({ task: 't' })).toEqual(["schedules.nightly: needs exactly one of cron ('0 3 * * *') or every ('30s')"]);
    expect(problems({ task: 't', cron: '* * * * *', every: '1m' })).toEqual([
      'schedules.nightly: has both cron and every; give exactly one',
    ]);
  });

  it('checks every, tz, missed, enabled, queue, priority, payload and unknown keys', () => {
    expect(problems({ task: 't', every: '500ms' })[0]).toMatch(
      /^schedules\.nightly\.every: must be a duration of at least 1s .*\(got "500ms"\)/,
    );
    expect(problems({ task: 't', every: 'often' })[0]).toMatch(/\(got "often"\)/);
    expect(problems({ task: 't', every: '1m', tz: 'Mars/Olympus' })).toEqual([
      `schedules.nightly.tz: "Mars/Olympus" is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')`,
    ]);
    expect(problems({ task: 't', every: '1m', missed: 'some' })).toEqual([
      `schedules.nightly.missed: must be one of 'skip', 'latest', 'all' (got "some")`,
    ]);
    expect(problems({ task: 't', every: '1m', enabled: 'yes' })[0]).toMatch(/^schedules\.nightly\.enabled: must be true or false/);
    expect(problems({ task: 't', every: '1m', queue: '_x' })[0]).toMatch(/^schedules\.nightly\.queue:/);
    expect(problems({ task: 't', every: '1m', priority: -1 })[0]).toMatch(/^schedules\.nightly\.priority:/);
    expect(problems({ task: 't', every: '1m', payload: { f: () => 1 } })[0]).toMatch(
      /^schedules\.nightly\.payload: the payload\.f is a function/,
    );
    expect(problems({ task: 't', every: '1m', when: 'now' })[0]).toMatch(
      /^schedules\.nightly\.when: unknown key \(allowed: task, cron, every/,
    );
  });

  it('refuses a name too long to make run ids from', () => {
    expect(problems({ task: 't', every: '1m' }, 'x'.repeat(181))[0]).toMatch(/too long to make run ids/);
    expect(problems({ task: 't', every: '1m' }, 'x'.repeat(180))).toEqual([]);
  });
});

describe('run ids', () => {
  it('are readable for plain names and never contain ":" or only digits', () => {
    expect(scheduleRunId('clean-old-images-every-day', 1767322800000)).toBe('beat-clean-old-images-every-day-1767322800000');
    const id = scheduleRunId('reports: daily ü', 1767322800000);
    expect(id).toBe('beat-reports~3A~20daily~20~C3~BC-1767322800000');
    expect(id).not.toContain(':');
    expect(scheduleRunId('2026', 0)).toBe('beat-2026-0');
  });

  it('are reversible, so two schedules never share one', () => {
    for (const name of ['a-1', 'a', 'x~41', 'x A', 'über:cool/ok', 'job-123']) {
      expect(decodeScheduleName(encodeScheduleName(name))).toBe(name);
      expect(parseScheduleRunId(scheduleRunId(name, 1767322800000))).toEqual({ name, fireMs: 1767322800000 });
    }
    expect(encodeScheduleName('x~41')).not.toBe(encodeScheduleName('xA'));
    expect(parseScheduleRunId('mwwa9h1ik3z232rp')).toBeUndefined();
  });
});

describe('zones', () => {
  it('formats an instant as wall-clock time with its offset', () => {
    expect(formatInZone(at('2026-01-01T18:00:00Z'), 'Asia/Seoul', { weekday: true })).toBe('2026-01-02 03:00:00 +09:00 Fri');
    expect(formatInZone(at('2026-01-01T18:00:00Z'), 'UTC')).toBe('2026-01-01 18:00:00 +00:00');
    expect(formatInZone(at('2026-01-01T00:00:00Z'), 'Asia/Kolkata')).toBe('2026-01-01 05:30:00 +05:30');
  });

  it('knows IANA zones', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });
});
