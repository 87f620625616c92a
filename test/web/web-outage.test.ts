import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/index.js';
import { defineConfig, defineTask } from '../../src/index.js';
import { startWebServer } from '../../src/web/server.js';
import { eventually } from '../helpers/project.js';
import { startRedis } from '../helpers/redis-server.js';

describe('tq web with Redis restarting', () => {
  it('answers /readyz 503 and API reads 503 with an error document while Redis is down, and recovers by itself', async () => {
    const redis = await startRedis({ appendonly: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-web-outage-'));
    const config = configFromObject(
      defineConfig({ tasks: { hello: defineTask({ args: ['name'], run: async ({ name }: { name: string }) => `hello ${name}` }) } }),
      dir,
    );
    const settings = {
      redisUrl: redis.url,
      redisExplicit: true,
      prefix: `o${randomBytes(3).toString('hex')}`,
      dbFile: path.join(dir, 'tq.db'),
      debug: false,
    };
    const warnings: string[] = [];
    const server = await startWebServer(config, settings, {
      port: 0,
      host: '127.0.0.1',
      readOnly: false,
      allowActions: true,
      env: {},
      logger: { info: () => undefined, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      await redis.stop();
      const down = await fetch(`${server.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ redis: false, sqlite: true });
      const read = await fetch(`${server.url}/api/queues`);
      expect(read.status).toBe(503);
      expect(((await read.json()) as { error: { code: string } }).error.code).toBe('E_REDIS');
      // History reads need no Redis.
      expect((await fetch(`${server.url}/api/runs`)).status).toBe(200);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await redis.restart();
      await eventually(async () => (await fetch(`${server.url}/readyz`)).status === 200, 20_000, 'ready again');
      const enqueued = await fetch(`${server.url}/api/enqueue`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'hello', args: ['back'] }),
      });
      expect(enqueued.status).toBe(200);
      // The live event reader picked up again: the enqueue reaches the runs list through the recorder.
      const id = ((await enqueued.json()) as { id: string }).id;
      await eventually(
        async () => ((await (await fetch(`${server.url}/api/runs?q=id:${id}`)).json()) as { runs: unknown[] }).runs.length === 1,
      );
    } finally {
      await server.close();
      await redis.stop();
    }
  });
});
