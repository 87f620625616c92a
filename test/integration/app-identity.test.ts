import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createClient, defineConfig, defineTask, startWorker as startTqWorker, UsageError } from '../../src/index.js';
import { configFromObject, loadConfig } from '../../src/config/index.js';
import { appName } from '../../src/config/app-name.js';
import { WorkerRuntime } from '../../src/queue/index.js';
import { openStore } from '../../src/store/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-apps-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One app's config: `hello` answers with the app's name, so the test sees who ran a run. */
const appConfig = (name: string) =>
  defineConfig({ name, tasks: { hello: defineTask({ run: async (p: { n: number }) => `${name} ran ${p.n}` }) } });

describe('two applications on one Redis and one prefix', () => {
  const redis = inject('redisUrl');
  const prefix = `apps${randomBytes(4).toString('hex')}`;
  const store = openStore(path.join(dir, 'tq.db'), { prefix });
  afterAll(() => store.close());

  const startWorker = (name: string, warnings: string[] = []) =>
    WorkerRuntime.start({
      config: configFromObject(appConfig(name), dir),
      redisUrl: redis,
      prefix,
      queues: ['default'],
      concurrency: 1,
      name: `${name}-w`,
      records: store.records,
      logger: { info: () => undefined, warn: (l) => warnings.push(l) },
      heartbeatIntervalMs: 200,
    });

  it('a worker refuses to start on a prefix another app consumes; a run of another app is put back for its own workers, never run or failed; plain BullMQ runs still run', async () => {
    const warnings: string[] = [];
    const shop = await startWorker('shop', warnings);
    const blogClient = createClient(appConfig('blog'), { redis, prefix, dir });
    const shopClient = createClient(appConfig('shop'), { redis, prefix, dir });
    const plain = new Queue('default', { connection: { url: redis }, prefix });
    let blog: WorkerRuntime | undefined;
    try {
      // Refused at start: one line naming the other app, its worker and host, and the fix.
      const refused = await startWorker('blog').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UsageError);
      expect((refused as UsageError).message).toBe(
        `prefix "${prefix}" is in use by app "shop" (worker shop-w on host ${os.hostname()}); this is app "blog"`,
      );
      expect((refused as UsageError).hint).toMatch(/prefix: 'blog' in tasks\.config\.ts/);
      // The same through startWorker (what tq worker runs): refused before any SQLite file is made.
      const dbFile = path.join(dir, 'blog-host', 'blog.db');
      const viaRuntime = await startTqWorker(appConfig('blog'), {
        dir,
        redis,
        prefix,
        db: dbFile,
        logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
        serverWarnings: false,
      }).catch((e: unknown) => e);
      expect(viaRuntime).toBeInstanceOf(UsageError);
      expect(fs.existsSync(dbFile)).toBe(false);

      // A blog run reaching the shop worker: left alone, said once.
      const blogRun = await blogClient.enqueue('hello', { n: 1 });
      const shopRun = await shopClient.enqueue('hello', { n: 2 });
      expect(await shopRun.wait({ timeout: '10s' })).toBe('shop ran 2');
      const job = await plain.getJob(blogRun.id);
      expect(job?.opts).toMatchObject({ tqApp: 'blog' });
      // The shop worker took the blog run and put it back (delayed), without running it.
      await expect.poll(() => warnings.find((w) => w.includes(blogRun.id)), { timeout: 10_000 }).toBeDefined();
      expect(warnings.filter((w) => w.includes('belongs to app "blog"'))).toHaveLength(1);
      expect(await plain.getJobState(blogRun.id)).toBe('delayed');
      expect(job?.attemptsMade ?? 0).toBe(0);

      // A plain BullMQ producer's job names no app: any worker runs it.
      const plainJob = await plain.add('hello', { n: 3 });
      expect(await shopClient.run(plainJob.id!).wait({ timeout: '10s' })).toBe('shop ran 3');

      // Its own app's worker runs it once the other app has left the prefix.
      await shop.shutdown(2000);
      blog = await startWorker('blog');
      expect(await blogRun.wait({ timeout: '15s' })).toBe('blog ran 1');
      expect(await plain.getJob(blogRun.id)).toMatchObject({ attemptsMade: 1 });
    } finally {
      await blog?.shutdown(2000);
      await shop.shutdown(2000).catch(() => undefined);
      await blogClient.close();
      await shopClient.close();
      await plain.close();
    }
  });
});

describe('appName', () => {
  it('is the name of the nearest package.json at or above the directory; none without one', async () => {
    const root = fs.mkdtempSync(path.join(dir, 'pkg-'));
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: '@acme/shop' }));
    fs.mkdirSync(path.join(root, 'src', 'jobs'), { recursive: true });
    expect(appName(path.join(root, 'src', 'jobs'))).toBe('@acme/shop');
    expect(configFromObject(appConfig('explicit'), root).app).toBe('explicit');
    // A config file belongs to its package; an object names an app only with `name`.
    fs.writeFileSync(path.join(root, 'src', 'jobs', 'tasks.config.mjs'), "export default { tasks: { hi: { run: () => 'hi' } } };\n");
    expect((await loadConfig(path.join(root, 'src', 'jobs', 'tasks.config.mjs'))).app).toBe('@acme/shop');
    expect(configFromObject({ tasks: appConfig('x').tasks }, root).app).toBeUndefined();
    // os.tmpdir() has no package.json above it on a normal system.
    expect(appName(fs.mkdtempSync(path.join(os.tmpdir(), 'tq-nopkg-')))).toBeUndefined();
  });
});
