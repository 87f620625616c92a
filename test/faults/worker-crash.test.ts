import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stopAfterTest } from '../helpers/cli.js';
import { bullQueue, eventually } from '../helpers/project.js';
import { writeTestImage } from '../../src/tasks/index.js';
import { executions, faultsProject, producerFor, report } from './helpers.js';

describe('a worker killed with SIGKILL mid-run', () => {
  it('200 runs over 2 workers, one SIGKILLed 5 times and restarted: every run completes (at-least-once)', async () => {
    const project = faultsProject();
    const spawnWorker = (name: string) => {
      const p = project.spawn(['worker', '-Q', 'default', '-c', '4', '-n', name]);
      stopAfterTest(p);
      return p;
    };
    const steady = spawnWorker('steady');
    let victim = spawnWorker('victim-0');
    await Promise.all([steady.waitFor(/ready/), victim.waitFor(/ready/)]);
    const producer = await producerFor(project);
    const runs = await producer.enqueueMany(Array.from({ length: 200 }, () => ({ task: 'work', payload: {} })));
    await producer.close();
    const ids = new Set(runs.map((r) => r.id));

    for (let kill = 1; kill <= 5; kill++) {
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 600)));
      victim.kill('SIGKILL');
      await victim.exited;
      victim = spawnWorker(`victim-${kill}`);
      await victim.waitFor(/ready/);
    }

    const queue = bullQueue(project, 'default');
    try {
      await eventually(async () => (await queue.getCompletedCount()) === 200, 90_000, '200 completed runs');
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      await queue.close();
    }
    const { ids: executed, total } = executions(project);
    const lost = [...ids].filter((id) => !executed.has(id)).length;
    report(`worker SIGKILL x5, 200 runs of 200 ms over 2 workers: ${lost} lost, ${total - executed.size} executed twice`);
    expect(lost).toBe(0);
    expect(executed.size).toBe(200);
  }, 150_000);

  it('resize is idempotent: crashes mid-batch leave the same thumbnails as a crash-free run', async () => {
    const make = async () => {
      const project = faultsProject();
      for (let i = 0; i < 24; i++)
        await writeTestImage(project.file(`in/p${i}.jpg`), { width: 1600, height: 1200, format: 'jpeg', variant: i });
      return project;
    };
    const hashes = (project: ReturnType<typeof faultsProject>) => {
      const dir = path.join(project.dir, 'media', 'resized');
      return fs
        .readdirSync(dir)
        .filter((f) => !f.startsWith('.'))
        .map((f) =>
          crypto
            .createHash('sha256')
            .update(fs.readFileSync(path.join(dir, f)))
            .digest('hex'),
        )
        .sort();
    };
    const runBatch = async (crash: boolean) => {
      const project = await make();
      let worker = project.spawn(['worker', '-Q', 'images', '-c', '2']);
      stopAfterTest(worker);
      await worker.waitFor(/ready/);
      const files = Array.from({ length: 24 }, (_, i) => `in/p${i}.jpg`);
      expect((await project.run(['enqueue', 'resize', ...files])).code).toBe(0);
      if (crash) {
        for (let k = 0; k < 2; k++) {
          await worker.waitFor(/resize\[\w+\] succeeded/);
          worker.kill('SIGKILL');
          await worker.exited;
          worker = project.spawn(['worker', '-Q', 'images', '-c', '2']);
          stopAfterTest(worker);
          await worker.waitFor(/ready/);
        }
      }
      const queue = bullQueue(project, 'images');
      await eventually(async () => (await queue.getCompletedCount()) === 24, 60_000, '24 thumbnails');
      await queue.close();
      return hashes(project);
    };
    const clean = await runBatch(false);
    const crashed = await runBatch(true);
    expect(crashed).toHaveLength(24);
    // Thumbnails are a pure function of their originals (the sample pictures are deterministic).
    expect(crashed).toEqual(clean);
    report('resize batch of 24 with 2 worker SIGKILLs: thumbnails byte-identical to a crash-free run, no temp files left');
  }, 150_000);
});
