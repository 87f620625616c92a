import fs from 'node:fs';
import zlib from 'node:zlib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TqProcess } from '../helpers/cli.js';
import { stopAfterTest } from '../helpers/cli.js';
import { bullQueue, eventually, query, runRow } from '../helpers/project.js';
import { writeTestImage } from '../../src/tasks/index.js';
import { faultsProject, producerFor, report } from './helpers.js';

/** A valid 1-bit greyscale PNG of width x height: tiny on disk, huge once decoded. */
function bombPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const row = Buffer.alloc(1 + Math.ceil(width / 8));
  const raw = Buffer.alloc(row.length * height);
  const idat = zlib.deflateSync(raw, { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('poison input fails only its own run, with a clear reason; the worker keeps going', () => {
  const project = faultsProject();
  let worker: TqProcess;
  beforeAll(async () => {
    worker = project.spawn(['worker', '-Q', 'images,default', '-c', '2']);
    await worker.waitFor(/ready/);
  });
  afterAll(async () => {
    expect(await worker.stop()).toBe(0);
  });

  it('bad images, hostile names and malformed jobs written straight into Redis', async () => {
    const jpeg = project.file('good.jpg');
    await writeTestImage(jpeg, { width: 1200, height: 800, format: 'jpeg' });
    const png = project.file('good.png');
    await writeTestImage(png, { width: 1200, height: 800, format: 'png' });
    const good = fs.readFileSync(jpeg);
    const goodPng = fs.readFileSync(png);
    fs.mkdirSync(project.file('sub'));
    const files: Record<string, Buffer | string> = {
      'corrupt.jpg': Buffer.concat([good.subarray(0, 200), Buffer.alloc(5000, 0x55)]),
      'truncated.jpg': good.subarray(0, Math.floor(good.length / 2)),
      'truncated.png': goodPng.subarray(0, Math.floor(goodPng.length / 2)),
      'empty.jpg': Buffer.alloc(0),
      'text.jpg': 'this is not an image\n',
      'drawing.svg': '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
      'bomb.png': bombPng(30000, 30000),
      'with spaces.jpg': good,
      'ünïcødé-写真.jpg': good,
      '-leading-dash.jpg': good,
    };
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(project.file(name), data);
    const args = Object.keys(files).map((n) => (n.startsWith('-') ? `./${n}` : n));
    args.push('sub/../good.png');
    const res = await project.run(['enqueue', 'resize', ...args, '--wait', '--json'], { timeoutMs: 60_000 });
    expect(res.code).toBe(1); // some failed, as they should
    const runs = JSON.parse(res.stdout).runs as { state: string; error?: string; recordId: string }[];
    const byName = Object.fromEntries(args.map((a, i) => [a, runs[i]!]));
    for (const ok of ['with spaces.jpg', 'ünïcødé-写真.jpg', './-leading-dash.jpg', 'sub/../good.png']) {
      expect(byName[ok], ok).toMatchObject({ state: 'completed' });
    }
    const reasons: Record<string, RegExp> = {
      'corrupt.jpg': /corrupt|truncated|premature|unsupported/i,
      'truncated.jpg': /corrupt|truncated|premature/i,
      'truncated.png': /corrupt|truncated|unsupported|premature/i,
      'empty.jpg': /empty|zero|0 bytes|corrupt|unsupported/i,
      'text.jpg': /unsupported|corrupt|unrecognised/i,
      'drawing.svg': /unsupported image format "svg"/i,
      'bomb.png': /30000x30000 = 900000000 pixels, over the 50000000-pixel limit/,
    };
    const lines: string[] = [];
    for (const [name, reason] of Object.entries(reasons)) {
      const run = byName[name]!;
      expect(run.state, name).toBe('failed');
      expect(run.error, name).toMatch(reason);
      const [image] = query<{ status: string; error: string }>(
        project.dbFile,
        'SELECT status, error FROM images WHERE id = ?',
        run.recordId,
      );
      expect(image, name).toEqual({ status: 'failed', error: run.error });
      lines.push(`${name}: ${run.error}`);
    }
    // Stored names are safe: nothing escaped media/original, nothing overwritten.
    const stored = fs.readdirSync(project.file('media/original'));
    expect(stored).toHaveLength(args.length);
    for (const name of stored) expect(name).toMatch(/^[a-z0-9][a-z0-9_-]*-[0-9a-f]{6,}(\.[a-z0-9]{1,5})?$/);
    report(`poison images (each failed alone, worker kept going): ${lines.join(' | ')}`);

    // Jobs written by a plain BullMQ producer: an unknown task name, and resize with garbage data.
    const images = bullQueue(project, 'images');
    const other = bullQueue(project, 'default');
    try {
      await other.add('no-such-task', { x: 1 }, { jobId: 'raw-unknown' });
      await images.add('resize', 'garbage', { jobId: 'raw-garbage' });
      await images.add('resize', { imageId: 'img_x', original: '../../../etc/passwd' }, { jobId: 'raw-escape' });
      const failed = async (q: typeof images, id: string) => {
        const job = await q.getJob(id);
        return job && (await job.getState()) === 'failed' ? job.failedReason : undefined;
      };
      expect(await eventually(() => failed(other, 'raw-unknown'), 20_000)).toMatch(/unknown task "no-such-task"/);
      expect(await eventually(() => failed(images, 'raw-garbage'), 20_000)).toMatch(/payload|imageId|original/i);
      expect(await eventually(() => failed(images, 'raw-escape'), 20_000)).toMatch(/outside|escape|media/i);
    } finally {
      await images.close();
      await other.close();
    }
    // Still healthy: the next run goes through.
    const next = await project.run(['enqueue', 'hello', 'after-poison', '--wait']);
    expect(next.code).toBe(0);
    expect(worker.child.exitCode).toBeNull();
  }, 120_000);

  it('payloads: over the size limit, deeply nested, or not JSON are refused at enqueue (exit 2)', async () => {
    fs.writeFileSync(project.file('big.json'), JSON.stringify({ blob: 'x'.repeat(1024 * 1024 + 1) }));
    const big = await project.run(['enqueue', 'hello', '--payload', '@big.json']);
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/over the 1048576-byte limit/);
    let nested: unknown = 'deep';
    for (let i = 0; i < 100; i++) nested = { n: nested };
    fs.writeFileSync(project.file('deep.json'), JSON.stringify(nested));
    const deep = await project.run(['enqueue', 'hello', '--payload', '@deep.json']);
    expect(deep.code).toBe(2);
    expect(deep.stderr).toMatch(/nested more than 64 levels/);
    const notJson = await project.run(['enqueue', 'hello', '--payload', "{'name': 1}"]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/--payload is not valid JSON/);
  });
});

describe('jobs whose stored hash is not JSON, or too deep to print', () => {
  it('are listed, shown, cancelled and failed by id with a reason; deep payloads inspect fine', async () => {
    const project = faultsProject();
    const producer = await producerFor(project);
    const queue = bullQueue(project, 'default');
    const images = bullQueue(project, 'images');
    const redis = new Redis(project.redisUrl);
    try {
      for (const id of ['bad-data', 'bad-opts', 'bad-cancel', 'good']) await producer.enqueue('hello', { name: id }, { id });
      await producer.flush();
      // Hand edits (or another client) leave text that is not JSON where BullMQ expects JSON.
      await redis.hset(`${project.prefix}:default:bad-data`, 'data', '{not json');
      await redis.hset(`${project.prefix}:default:bad-opts`, 'opts', 'attempts=3');
      await redis.hset(`${project.prefix}:default:bad-cancel`, 'data', "{'single': 'quotes'}");
      // A payload nested 200,000 levels deep from a producer that is not tq (JSON.parse copes,
      // JSON.stringify overflows the stack).
      await images.add('resize', { x: 1 }, { jobId: 'deep' });
      await redis.hset(`${project.prefix}:images:deep`, 'data', `${'{"n":'.repeat(200_000)}1${'}'.repeat(200_000)}`);

      const list = await project.run(['inspect', 'tasks', '--json']);
      expect(list.code, list.stderr).toBe(0);
      const runs = JSON.parse(list.stdout).runs as { id: string; unparseable?: { field: string } }[];
      expect(Object.fromEntries(runs.map((r) => [r.id, r.unparseable?.field ?? null]))).toEqual({
        'bad-data': 'data',
        'bad-opts': 'opts',
        'bad-cancel': 'data',
        good: null,
        deep: null,
      });
      const table = await project.run(['inspect', 'tasks']);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/bad-data\s+hello \(unparseable data\)/);
      expect(table.stdout).toMatch(/bad-opts\s+hello \(unparseable opts\)/);

      const shown = await project.run(['inspect', 'task', 'bad-data']);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/payload\s+\(unparseable data\)/);
      expect(shown.stdout).toMatch(/its data is not JSON .*"\{not json"/);
      const shownJson = await project.run(['inspect', 'task', 'bad-opts', '--json']);
      expect(shownJson.code, shownJson.stderr).toBe(0);
      expect(JSON.parse(shownJson.stdout)).toMatchObject({ id: 'bad-opts', payload: { name: 'bad-opts' }, unparseable: { field: 'opts' } });

      const deep = await project.run(['inspect', 'task', 'deep']);
      expect(deep.code, deep.stderr).toBe(0);
      expect(deep.stdout).toMatch(/payload\s+\{"n":\{"n":.*nested more than 64 levels deep: not shown/);
      const deepJson = await project.run(['inspect', 'task', 'deep', '--json']);
      expect(deepJson.code, deepJson.stderr).toBe(0);
      expect(JSON.parse(deepJson.stdout).payload.n.n).toBeTypeOf('object');

      const cancel = await project.run(['control', 'cancel', 'bad-cancel']);
      expect(cancel.code, cancel.stderr).toBe(0);
      expect(cancel.stdout).toMatch(/cancelled run bad-cancel \(was waiting/);
      expect(await queue.getJob('bad-cancel')).toBeUndefined();

      // A worker fails each one at once, by id, with the reason, and goes on with the rest.
      const started = Date.now();
      const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default']));
      await worker.waitFor(/ready/);
      // Read raw: a plain BullMQ reader cannot parse these jobs.
      const failedReason = async (id: string) =>
        (await redis.zscore(`${project.prefix}:default:failed`, id)) !== null
          ? await redis.hget(`${project.prefix}:default:${id}`, 'failedReason')
          : undefined;
      expect(await eventually(() => failedReason('bad-data'), 15_000, 'bad-data failed')).toMatch(
        /^unparseable job: its data is not JSON \(.*\); .*enqueue the run again$/,
      );
      expect(await eventually(() => failedReason('bad-opts'), 15_000, 'bad-opts failed')).toMatch(/^unparseable job: its opts is not JSON/);
      const tookMs = Date.now() - started;
      expect(await eventually(async () => (await queue.getJob('good'))?.returnvalue, 15_000, 'good completed')).toBe('hello good');
      const stalls = Number(await redis.hget(`${project.prefix}:default:bad-data`, 'stc'));
      expect(stalls).toBe(0);
      expect(worker.child.exitCode).toBeNull();
      // History says so too.
      await project.run(['inspect', 'history']);
      expect(runRow(project, 'bad-data')).toMatchObject({ state: 'failed', error: expect.stringMatching(/unparseable job/) });

      // Failed, they are still readable by every command.
      const after = await project.run(['inspect', 'tasks', '--state', 'failed', '--json']);
      expect(after.code, after.stderr).toBe(0);
      expect((JSON.parse(after.stdout).runs as { id: string }[]).map((r) => r.id).sort()).toEqual(['bad-data', 'bad-opts']);
      const retried = await project.run(['control', 'retry', '--failed']);
      expect(retried.code, retried.stderr).toBe(0);
      report(
        `non-JSON job data/opts (raw HSET): listed, shown and cancelled by tq; the worker failed both by id in ${tookMs} ms ` +
          `(worker start included), stall count ${stalls}; a 200,000-deep payload inspects with a cut at 64 levels`,
      );
    } finally {
      redis.disconnect();
      await images.close();
      await queue.close();
      await producer.close();
    }
  }, 90_000);
});
