import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { resolveConfig } from '../../src/config/validate.js';
import { DEFAULT_DB_FILE, DEFAULT_PREFIX, DEFAULT_REDIS_URL, configPath, resolveSettings } from '../../src/config/settings.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import { ConfigError, UsageError } from '../../src/core/errors.js';

const CWD = path.resolve('/home/me/work');
const CONFIG_DIR = path.resolve('/srv/app');
const run = async () => 'ok';

function config(extra: Record<string, unknown> = {}): ResolvedConfig {
  return resolveConfig({ tasks: { hello: { run } }, ...extra }, path.join(CONFIG_DIR, 'tasks.config.ts'), CONFIG_DIR);
}

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return err as UsageError;
  }
  throw new Error('expected a UsageError, nothing was thrown');
}

describe('resolveSettings', () => {
  const full = config({ redis: 'redis://from-config:6379', db: 'data/app.db', prefix: 'cfg' });
  const env = { TQ_REDIS_URL: 'redis://from-env:6379', TQ_DB: 'env/tq.db', TQ_PREFIX: 'envp' };

  it('uses the documented defaults with no flag, env or config', () => {
    expect(DEFAULT_REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(DEFAULT_PREFIX).toBe('tq');
    expect(DEFAULT_DB_FILE).toBe('.tq/tq.db');
    expect(resolveSettings({}, {}, undefined, CWD)).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      redisExplicit: false,
      dbFile: path.join(CWD, '.tq', 'tq.db'),
      prefix: 'tq',
      debug: false,
    });
  });

  it('puts the default database beside the config file', () => {
    const s = resolveSettings({}, {}, config(), CWD);
    expect(s.dbFile).toBe(path.join(CONFIG_DIR, '.tq', 'tq.db'));
    expect(s.redisUrl).toBe(DEFAULT_REDIS_URL);
    expect(s.redisExplicit).toBe(false);
    expect(s.prefix).toBe('tq');
  });

  it('takes config values over defaults, the db relative to the config dir', () => {
    const s = resolveSettings({}, {}, full, CWD);
    expect(s).toMatchObject({
      redisUrl: 'redis://from-config:6379',
      redisExplicit: true,
      dbFile: path.join(CONFIG_DIR, 'data', 'app.db'),
      prefix: 'cfg',
      debug: false,
    });
  });

  it('takes the environment over the config, TQ_DB relative to the working directory', () => {
    const s = resolveSettings({}, env, full, CWD);
    expect(s).toMatchObject({
      redisUrl: 'redis://from-env:6379',
      redisExplicit: true,
      dbFile: path.join(CWD, 'env', 'tq.db'),
      prefix: 'envp',
      debug: false,
    });
  });

  it('takes flags over everything, --db relative to the working directory', () => {
    const s = resolveSettings({ redis: 'rediss://flag:6380', db: 'flag.db', prefix: 'flagp' }, env, full, CWD);
    expect(s).toMatchObject({
      redisUrl: 'rediss://flag:6380',
      redisExplicit: true,
      dbFile: path.join(CWD, 'flag.db'),
      prefix: 'flagp',
      debug: false,
    });
  });

  it('keeps absolute paths as given', () => {
    const abs = path.resolve('/data/tq.db');
    expect(resolveSettings({ db: abs }, {}, full, CWD).dbFile).toBe(abs);
    expect(resolveSettings({}, { TQ_DB: abs }, full, CWD).dbFile).toBe(abs);
    expect(resolveSettings({}, {}, config({ db: abs }), CWD).dbFile).toBe(abs);
  });

  it('ignores empty environment variables', () => {
    const s = resolveSettings({}, { TQ_REDIS_URL: '', TQ_DB: '', TQ_PREFIX: '' }, full, CWD);
    expect(s.redisUrl).toBe('redis://from-config:6379');
    expect(s.dbFile).toBe(path.join(CONFIG_DIR, 'data', 'app.db'));
    expect(s.prefix).toBe('cfg');
  });

  it('marks the Redis URL explicit whenever one was given', () => {
    expect(resolveSettings({ redis: 'redis://127.0.0.1:6379' }, {}, undefined, CWD).redisExplicit).toBe(true);
    expect(resolveSettings({}, { TQ_REDIS_URL: 'redis://127.0.0.1:6379' }, undefined, CWD).redisExplicit).toBe(true);
    expect(resolveSettings({}, {}, config({ redis: 'redis://127.0.0.1:6379' }), CWD).redisExplicit).toBe(true);
    expect(resolveSettings({}, {}, config(), CWD).redisExplicit).toBe(false);
  });

  it('turns debug on with the flag or TQ_DEBUG=1 only', () => {
    expect(resolveSettings({ debug: true }, {}, undefined, CWD).debug).toBe(true);
    expect(resolveSettings({}, { TQ_DEBUG: '1' }, undefined, CWD).debug).toBe(true);
    expect(resolveSettings({}, { TQ_DEBUG: '0' }, undefined, CWD).debug).toBe(false);
    expect(resolveSettings({}, { TQ_DEBUG: '' }, undefined, CWD).debug).toBe(false);
    expect(resolveSettings({ debug: false }, {}, undefined, CWD).debug).toBe(false);
  });

  it.each(['a:b', 'has space', '-lead', 'x'.repeat(65), 'ünï'])('rejects the prefix %j with a UsageError', (prefix) => {
    const err = usageError(() => resolveSettings({ prefix }, {}, undefined, CWD));
    expect(err.message).toContain(`prefix "${prefix}"`);
    expect(err.message).toContain("no ':'");
  });

  it('rejects a bad prefix from the environment and the config too', () => {
    expect(usageError(() => resolveSettings({}, { TQ_PREFIX: 'a:b' }, undefined, CWD)).message).toContain('prefix "a:b"');
    expect(usageError(() => resolveSettings({}, {}, config({ prefix: 'c:d' }), CWD)).message).toContain('prefix "c:d"');
  });

  it('accepts prefixes of letters, digits, _ . -', () => {
    expect(resolveSettings({ prefix: 'my-app_2.prod' }, {}, undefined, CWD).prefix).toBe('my-app_2.prod');
    expect(resolveSettings({ prefix: 'x'.repeat(64) }, {}, undefined, CWD).prefix).toBe('x'.repeat(64));
  });

  it('rejects a URL that is not redis:// or rediss://, without printing its password', () => {
    const err = usageError(() => resolveSettings({ redis: 'http://user:hunter2@host:6379' }, {}, undefined, CWD));
    expect(err.message).toMatch(/must look like redis:\/\/host:port, rediss:\/\/\.\.\., redis\+cluster:\/\//);
    expect(err.message).not.toContain('hunter2');
    expect(usageError(() => resolveSettings({}, { TQ_REDIS_URL: '127.0.0.1:6379' }, undefined, CWD)).message).toContain('"127.0.0.1:6379"');
    expect(usageError(() => resolveSettings({}, {}, config({ redis: 'memcached://x' }), CWD)).message).toContain('memcached://x');
  });
});

describe('configPath', () => {
  it('resolves flag, then TQ_CONFIG, then ./tasks.config.ts against the working directory', () => {
    expect(configPath({ config: 'a.ts' }, { TQ_CONFIG: 'b.ts' }, CWD)).toBe(path.join(CWD, 'a.ts'));
    expect(configPath({}, { TQ_CONFIG: 'b.ts' }, CWD)).toBe(path.join(CWD, 'b.ts'));
    expect(configPath({}, {}, CWD)).toBe(path.join(CWD, 'tasks.config.ts'));
  });
});

describe('loadConfig (real files)', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-config-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  async function configErrorOf(file: string): Promise<ConfigError> {
    try {
      await loadConfig(file);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(2);
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError, the config loaded');
  }

  it("loads a TypeScript config that imports from 'tq' and 'tq/tasks'", async () => {
    const dir = tmp();
    const file = path.join(dir, 'tasks.config.ts');
    fs.writeFileSync(
      file,
      `import { defineConfig, defineTask } from 'tq';
import { resizeImage, cleanupImages } from 'tq/tasks';
interface Hello { name: string }
export default defineConfig({
  media: 'uploads',
  timezone: 'UTC',
  tasks: {
    resize: resizeImage({ maxWidth: 800, maxHeight: 600, quality: 85, queue: 'images', attempts: 3 }),
    cleanup: cleanupImages({ olderThan: '30d' }),
    hello: defineTask({ args: ['name'], timeout: '5s', run: async ({ name }: Hello) => \`hello \${name}\` }),
  },
  schedules: { nightly: { task: 'cleanup', cron: '0 3 * * *' } },
});
`,
    );
    const c = await loadConfig(file);
    expect(c.file).toBe(file);
    expect(c.dir).toBe(dir);
    expect(c.mediaDir).toBe(path.join(dir, 'uploads'));
    expect(c.timezone).toBe('UTC');
    expect([...c.tasks.keys()].sort()).toEqual(['cleanup', 'hello', 'resize']);
    expect(c.queues).toEqual(['default', 'images']);
    expect(c.tasks.get('resize')!.attempts).toBe(3);
    expect(c.tasks.get('hello')!.timeoutMs).toBe(5000);
    expect(c.tasks.get('hello')!.args).toEqual(['name']);
    expect(await c.tasks.get('hello')!.definition.run({ name: 'ann' }, undefined as never)).toBe('hello ann');
    expect(c.schedules).toMatchObject({ nightly: { task: 'cleanup', cron: '0 3 * * *' } });
  });

  it('reports a missing file with its path', async () => {
    const file = path.join(tmp(), 'nope.config.ts');
    const err = await configErrorOf(file);
    expect(err.message).toContain(path.relative(process.cwd(), file));
    expect(err.message).toMatch(/^no config file at /);
    expect(err.hint).toMatch(/--config|TQ_CONFIG/);
  });

  it('reports a syntax error at file:line:column (from 1) with the offending line and a caret, and no hint pointing above', async () => {
    const file = path.join(tmp(), 'tasks.config.ts');
    const line = 'export default defineConfig({ tasks: { hello: { run: () => } } });';
    fs.writeFileSync(file, `import { defineConfig } from 'tq';\n${line}\n`);
    const err = await configErrorOf(file);
    expect(err.message).toBe(
      `${path.relative(process.cwd(), file)}:2:60: syntax error: Unexpected token\n  2 | ${line}\n    | ${' '.repeat(59)}^`,
    );
    expect(line[59]).toBe('}');
    expect(err.hint).toBeUndefined();
  });

  it('reports a config that throws while loading', async () => {
    const file = path.join(tmp(), 'tasks.config.ts');
    fs.writeFileSync(file, "throw new Error('boom at load');\nexport default {};\n");
    const err = await configErrorOf(file);
    expect(err.message).toMatch(/failed to load: .*boom at load/);
  });

  it('validates what the file exports, naming the file and each bad key', async () => {
    const dir = tmp();
    const file = path.join(dir, 'tasks.config.ts');
    fs.writeFileSync(
      file,
      "import { defineConfig, defineTask } from 'tq';\nexport default defineConfig({ tasks: { x: defineTask({ attempts: 0, run: () => 1 }) }, colour: 'blue' } as any);\n",
    );
    const err = await configErrorOf(file);
    expect(err.problems.map((p) => p.split(':')[0]).sort()).toEqual(['colour', 'tasks.x.attempts']);
    expect(err.message.startsWith(`${path.relative(process.cwd(), file)}: 2 problems:`)).toBe(true);
  });

  it('loads a plain JavaScript (ESM) config', async () => {
    const dir = tmp();
    const file = path.join(dir, 'tasks.config.mjs');
    fs.writeFileSync(file, "export default { prefix: 'js', tasks: { one: { queue: 'q1', run: () => 1 } } };\n");
    const c = await loadConfig(file);
    expect([...c.tasks.keys()]).toEqual(['one']);
    expect(c.queues).toEqual(['q1']);
    expect(c.prefix).toBe('js');
  });

  it('sees edits to a TypeScript config when it is loaded again (no module cache)', async () => {
    const dir = tmp();
    const file = path.join(dir, 'tasks.config.ts');
    fs.writeFileSync(file, 'export default { tasks: { one: { run: (): number => 1 } } };\n');
    expect([...(await loadConfig(file)).tasks.keys()]).toEqual(['one']);
    fs.writeFileSync(file, 'export default { tasks: { two: { run: (): number => 2 } } };\n');
    expect([...(await loadConfig(file)).tasks.keys()]).toEqual(['two']);
  });
});
