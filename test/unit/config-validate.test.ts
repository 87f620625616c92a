import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/validate.js';
import { ConfigError } from '../../src/core/errors.js';

const run = async () => 'ok';
const DIR = path.resolve('/srv/app');
const FILE = path.join(DIR, 'tasks.config.ts');

function configError(raw: unknown, file: string | null = FILE): ConfigError {
  try {
    resolveConfig(raw, file ?? undefined, DIR);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.exitCode).toBe(2);
    expect(e.code).toBe('E_CONFIG');
    return e;
  }
  throw new Error('expected a ConfigError, the config resolved');
}

describe('resolveConfig: a valid config', () => {
  const raw = {
    timezone: 'Asia/Seoul',
    media: 'files/media',
    redis: 'redis://cache:6379',
    db: 'data/tq.db',
    prefix: 'shop',
    history: { keep: '30d', redact: ['password'], streamMaxLen: 5000 },
    payloadLimit: 2048,
    worker: { concurrency: 4, shutdownTimeout: '1m', unknownTaskGrace: '90s' },
    tasks: {
      resize: {
        run,
        queue: 'images',
        attempts: 3,
        timeout: '30s',
        expires: '1h',
        priority: 5,
        keep: 0,
        backoff: { type: 'exponential', delay: '5s', maxDelay: '10m', jitter: 0.5 },
      },
      thumbs: { run, queue: 'images' },
      hello: { run, args: ['name'], description: 'says hello' },
      zeta: { run, queue: 'alpha' },
    },
    schedules: { nightly: { task: 'resize', cron: '0 3 * * *' } },
  };

  it('resolves durations to ms, paths to absolute, queues sorted and deduped', () => {
    const c = resolveConfig(raw, FILE, DIR);
    expect(c.file).toBe(FILE);
    expect(c.dir).toBe(DIR);
    expect(c.timezone).toBe('Asia/Seoul');
    expect(c.mediaDir).toBe(path.join(DIR, 'files', 'media'));
    expect(c.queues).toEqual(['alpha', 'default', 'images']);
    expect(c.history).toMatchObject({ keepMs: 30 * 86_400_000, redact: ['password'], streamMaxLen: 5000 });
    expect(c.payloadLimit).toBe(2048);
    expect(c.worker).toMatchObject({ concurrency: 4, shutdownTimeoutMs: 60_000, unknownTaskGraceMs: 90_000 });
    expect(c.redis).toBe('redis://cache:6379');
    expect(c.db).toBe('data/tq.db');
    expect(c.prefix).toBe('shop');
    expect(c.schedules).toMatchObject({ nightly: { task: 'resize', cron: '0 3 * * *' } });
    expect([...c.tasks.keys()].sort()).toEqual(['hello', 'resize', 'thumbs', 'zeta']);
  });

  it('resolves task options', () => {
    const c = resolveConfig(raw, FILE, DIR);
    const resize = c.tasks.get('resize')!;
    expect(resize).toMatchObject({
      name: 'resize',
      queue: 'images',
      attempts: 3,
      timeoutMs: 30_000,
      expiresMs: 3_600_000,
      priority: 5,
      keep: 0,
      backoff: { type: 'exponential', delay: 5000, maxDelay: 600_000, jitter: 0.5 },
    });
    expect(resize.definition).toBe(raw.tasks.resize);
    const hello = c.tasks.get('hello')!;
    expect(hello).toMatchObject({ queue: 'default', attempts: 1, args: ['name'], description: 'says hello' });
    expect(hello.timeoutMs).toBeUndefined();
    expect(hello.expiresMs).toBeUndefined();
    expect(hello.backoff).toBeUndefined();
    expect(hello.priority).toBeUndefined();
    expect(hello.keep).toBeUndefined();
  });

  it('fills the documented defaults', () => {
    const c = resolveConfig({ tasks: { hello: { run } } }, undefined, DIR);
    expect(c.file).toBeUndefined();
    expect(c.mediaDir).toBe(path.join(DIR, 'media'));
    expect(c.queues).toEqual(['default']);
    expect(c.worker).toMatchObject({ concurrency: 1, shutdownTimeoutMs: 30_000, unknownTaskGraceMs: 300_000 });
    expect(c.history).toMatchObject({ redact: [], streamMaxLen: 100_000 });
    expect(c.history.keepMs).toBeUndefined();
    expect(c.payloadLimit).toBe(1024 * 1024);
    expect(c.schedules).toEqual({});
    expect(c.timezone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(c.redis).toBeUndefined();
    expect(c.db).toBeUndefined();
    expect(c.prefix).toBeUndefined();
    expect(c.tasks.get('hello')!.args).toEqual([]);
  });

  it('keeps an absolute media path as it is', () => {
    const media = path.resolve('/var/media');
    expect(resolveConfig({ media, tasks: { hello: { run } } }, FILE, DIR).mediaDir).toBe(media);
  });
});

describe('resolveConfig: invalid configs', () => {
  it('lists every problem at once, each naming its key path', () => {
    const err = configError({
      tasks: {
        x: { run, attempts: 0, timeout: 'soon' },
        noRun: { queue: 'q' },
      },
      schedules: { s: { task: 'missing', cron: '* * * * *' } },
      colour: 'blue',
      timezone: 'Mars/Olympus',
    });
    const keys = err.problems.map((p) => p.split(':')[0]);
    expect(keys.sort()).toEqual(['colour', 'schedules.s.task', 'tasks.noRun', 'tasks.x.attempts', 'tasks.x.timeout', 'timezone']);
    expect(err.message.startsWith(`${path.relative(process.cwd(), FILE)}: 6 problems:`)).toBe(true);
    for (const p of err.problems) expect(err.message).toContain(p);
    expect(err.problems).toContain('tasks.x.attempts: must be a positive integer (got 0)');
    expect(err.problems).toContain(`tasks.x.timeout: must be a duration such as '30s', '5m', '1h' (got "soon")`);
    expect(err.problems).toContain('tasks.noRun: must be a task definition with a run(payload, ctx) function (use defineTask)');
    expect(err.problems.find((p) => p.startsWith('schedules.s.task'))).toBe(
      'schedules.s.task: "missing" is not a defined task (defined: x)',
    );
    expect(err.problems.find((p) => p.startsWith('colour:'))).toMatch(/^colour: unknown key \(allowed: .*tasks.*schedules/);
    expect(err.problems.find((p) => p.startsWith('timezone'))).toBe(
      `timezone: "Mars/Olympus" is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')`,
    );
  });

  it('reports a single problem on one line, prefixed by the file', () => {
    const err = configError({ tasks: { hello: { run } }, timezone: 'Nowhere/Land' });
    expect(err.problems).toHaveLength(1);
    expect(err.message).toBe(
      `${path.relative(process.cwd(), FILE)}: timezone: "Nowhere/Land" is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')`,
    );
    expect(err.message).not.toContain('\n');
  });

  it('names "config" when there is no file', () => {
    const err = configError({ tasks: {} }, null);
    expect(err.message).toBe('config: tasks: define at least one task');
  });

  it('requires tasks', () => {
    expect(configError({}).problems).toEqual(['tasks: required: an object of task definitions, e.g. { hello: defineTask({ run }) }']);
    expect(configError({ tasks: [] }).problems[0]).toMatch(/^tasks: required/);
  });

  it('rejects a default export that is not an object', () => {
    for (const raw of [undefined, null, 'tasks', 42]) {
      const err = configError(raw);
      expect(err.message).toMatch(/the default export must be defineConfig/);
      expect(err.hint).toMatch(/export default defineConfig/);
    }
  });

  it('checks task options: names, queue, backoff, priority, args, unknown options, durations', () => {
    const err = configError({
      tasks: {
        '1bad': { run },
        t: {
          run,
          queue: '_private',
          backoff: { type: 'linear', delay: '1s' },
          priority: -1,
          args: ['ok', ''],
          retries: 3,
          expires: -5,
          keep: 1.5,
          retryOn: 'yes',
          warmup: 'now',
        },
        b: { run, backoff: { type: 'fixed', delay: 'later', maxDelay: {}, jitter: 2 } },
      },
    });
    const keys = err.problems.map((p) => p.split(':')[0]).sort();
    expect(keys).toEqual([
      'tasks.1bad',
      'tasks.b.backoff.delay',
      'tasks.b.backoff.jitter',
      'tasks.b.backoff.maxDelay',
      'tasks.t.args',
      'tasks.t.backoff',
      'tasks.t.expires',
      'tasks.t.keep',
      'tasks.t.priority',
      'tasks.t.queue',
      'tasks.t.retries',
      'tasks.t.retryOn',
      'tasks.t.warmup',
    ]);
    expect(err.problems.find((p) => p.startsWith('tasks.t.retries'))).toMatch(/unknown option \(allowed: run, fromArgs, queue, attempts/);
  });

  it('checks top-level settings: strings, history, payloadLimit, worker', () => {
    const err = configError({
      tasks: { hello: { run } },
      media: '',
      redis: 42,
      history: { keep: 'a while', redact: 'password', streamMaxLen: 0 },
      payloadLimit: -1,
      worker: { concurrency: 0, shutdownTimeout: 'never', unknownTaskGrace: true },
      schedules: [],
    });
    const keys = err.problems.map((p) => p.split(':')[0]).sort();
    expect(keys).toEqual([
      'history.keep',
      'history.redact',
      'history.streamMaxLen',
      'media',
      'payloadLimit',
      'redis',
      'schedules',
      'worker.concurrency',
      'worker.shutdownTimeout',
      'worker.unknownTaskGrace',
    ]);
    expect(err.problems).toContain('media: must be a non-empty string (got "")');
    expect(err.problems).toContain('redis: must be a non-empty string (got 42)');
  });

  it('checks every section even when others are wrong, listing problems in the order of the sections', () => {
    const err = configError({
      tasks: { t: { run, queue: '_hidden', priority: 2_097_152 } },
      schedules: { s: { task: 'nope', every: '30s', tz: 'Mars/Olympus' } },
      timezone: 'Nowhere/Land',
      media: 7,
      prefix: '',
      history: { keep: 'forever', redact: [1] },
      payloadLimit: 0,
      worker: { concurrency: 1.5, lockDuration: 'soon', maxZombies: -1 },
      extra: true,
    });
    expect(err.problems.map((p) => p.split(':')[0])).toEqual([
      'extra',
      'tasks.t.queue',
      'tasks.t.priority',
      'schedules.s.task',
      'schedules.s.tz',
      'timezone',
      'media',
      'prefix',
      'history.redact',
      'history.keep',
      'payloadLimit',
      'worker.concurrency',
      'worker.maxZombies',
      'worker.lockDuration',
    ]);
    expect(err.message.startsWith(`${path.relative(process.cwd(), FILE)}: 14 problems:`)).toBe(true);
    expect(err.problems).toContain('tasks.t.priority: must be an integer from 0 to 2097151, lower runs first (got 2097152)');
    expect(err.problems).toContain('worker.maxZombies: must be a non-negative integer (got -1)');
  });

  it('names every defined task when a schedule refers to an unknown one', () => {
    const err = configError({ tasks: { b: { run }, a: { run } }, schedules: { s: { task: 'c', every: '1m' }, t: null } });
    expect(err.problems).toEqual([
      'schedules.s.task: "c" is not a defined task (defined: b, a)',
      'schedules.t: must be { task, cron | every }',
    ]);
  });

  it('takes redis as a URL or as { url, allowEviction }, and checks resultLimit', () => {
    const ok = resolveConfig(
      { tasks: { t: { run } }, redis: { url: 'redis://cache:6379', allowEviction: true }, resultLimit: 2048 },
      FILE,
      DIR,
    );
    expect(ok.redis).toBe('redis://cache:6379');
    expect(ok.allowEviction).toBe(true);
    expect(ok.resultLimit).toBe(2048);
    expect(ok.tasks.get('t')?.resultLimit).toBe(2048);
    const plain = resolveConfig({ tasks: { t: { run } }, redis: 'redis://cache:6379' }, FILE, DIR);
    expect(plain.allowEviction).toBe(false);
    expect(plain.resultLimit).toBe(1024 * 1024);
    const err = configError({ tasks: { t: { run } }, redis: { url: '', allowEviction: 'yes', evict: true }, resultLimit: 0 });
    expect(err.problems).toEqual([
      'redis.evict: unknown key (allowed: url, allowEviction)',
      'redis.allowEviction: must be true or false',
      'redis.url: must be a non-empty string (got "")',
      'resultLimit: must be a positive integer (got 0)',
    ]);
  });
});
