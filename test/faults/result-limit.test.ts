import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, makeProject, stopAfterTest } from '../helpers/cli.js';
import { bullQueue, eventually, runRow } from '../helpers/project.js';
import { report } from './helpers.js';

const project = () =>
  makeProject(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'memory-config.ts.txt'), 'utf8').replace('__REDIS__', ''));

describe('results over resultLimit', () => {
  it('fail their run at once (no retry) with a reason naming resultLimit; smaller ones complete', async () => {
    const p = project();
    const worker = stopAfterTest(p.spawn(['worker']));
    await worker.waitFor(/ready/);
    const big = await p.run(['enqueue', 'big', '--payload', JSON.stringify({ bytes: 300_000 }), '--wait', '--json']);
    expect(big.code).toBe(1);
    const out = JSON.parse(big.stdout) as { id: string; state: string; error: string };
    expect(out.state).toBe('failed');
    expect(out.error).toMatch(
      /^result is 3000\d\d bytes, over the 100000-byte resultLimit: return a reference \(a record id, a path\) instead of the data, or raise resultLimit in the config/,
    );
    const small = await p.run(['enqueue', 'big', '--payload', JSON.stringify({ bytes: 50_000 }), '--wait', '--json']);
    expect(small.code, small.stderr).toBe(0);

    // Final: the task allows 3 attempts, the first one was the last.
    const queue = bullQueue(p, 'default');
    try {
      const job = await queue.getJob(out.id);
      expect(job?.attemptsMade).toBe(1);
      // Redis keeps the reason, not the 300 KB value.
      expect(job?.returnvalue ?? null).toBeNull();
    } finally {
      await queue.close();
    }
    const row = await eventually(() => {
      const r = runRow(p, out.id);
      return r?.state === 'failed' ? r : undefined;
    });
    expect(row.attempt).toBe(1);
    expect(row.result).toBeNull();
    expect(row.error).toMatch(/over the 100000-byte resultLimit/);
    report(
      'result of 300 KB over a 100 KB resultLimit: the run failed at once (1 of 3 attempts) naming resultLimit; nothing of the value stored in Redis or history',
    );
  }, 60_000);
});
