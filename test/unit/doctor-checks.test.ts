import { describe, expect, it } from 'vitest';
import { diagnose, workerConnections, type DoctorInput } from '../../src/cli/doctor-checks.js';
import type { ServerFacts, WorkerHeartbeat } from '../../src/queue/index.js';

const server = (over: Partial<ServerFacts> = {}): ServerFacts => ({
  address: '10.0.0.1:6379',
  product: 'redis',
  version: '7.2.4',
  mode: 'standalone',
  role: 'master',
  connectedReplicas: 0,
  maxmemoryPolicy: 'noeviction',
  appendonly: 'yes',
  save: '',
  maxclients: 10000,
  connectedClients: 12,
  clientNames: [],
  ...over,
});

const worker = (name: string, over: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat => ({
  name,
  host: 'h1',
  pid: 100,
  queues: ['default'],
  concurrency: 1,
  active: [],
  processed: 0,
  failed: 0,
  zombies: 0,
  startedAt: 0,
  lastFetchAt: 0,
  rssBytes: 0,
  version: 'x',
  clockOffsetMs: 3,
  at: 0,
  ...over,
});

const input = (over: Partial<DoctorInput> = {}): DoctorInput => ({
  kind: 'single',
  prefix: 'tq',
  allowEviction: false,
  ownOffsetMs: 0,
  facts: { cluster: false, servers: [server()], workers: [worker('w1')], nameHolders: new Map([['w1', 'h1:100']]), stream: { length: 0 } },
  history: { dbFile: '.tq/tq.db', missedTotal: 0, backlog: 0 },
  unconsumed: [],
  ...over,
});

const failed = (i: DoctorInput) => diagnose(i).filter((c) => !c.ok);

describe('tq doctor rules', () => {
  it('a healthy deployment has no problem', () => {
    expect(failed(input())).toEqual([]);
  });

  it('connections: 5 + 2 per queue for a worker; past 80% of maxclients is a problem', () => {
    expect(workerConnections(1)).toBe(7);
    const facts = { ...input().facts, servers: [server({ connectedClients: 8500 })] };
    expect(failed(input({ facts }))).toEqual([expect.objectContaining({ name: 'connections', fix: expect.stringMatching(/maxclients/) })]);
  });

  it('old Redis, eviction, persistence, a sentinel primary without a replica', () => {
    const facts = {
      ...input().facts,
      servers: [server({ version: '6.0.9', maxmemoryPolicy: 'allkeys-lru', appendonly: 'no', save: '3600 1' })],
    };
    expect(failed(input({ facts })).map((c) => c.name)).toEqual(['redis', 'maxmemory-policy', 'persistence']);
    expect(failed(input({ facts, allowEviction: true })).map((c) => c.name)).toEqual(['redis', 'persistence']);
    expect(failed(input({ kind: 'sentinel' }))[0]).toMatchObject({ name: 'redis', detail: expect.stringMatching(/nothing to promote/) });
  });

  it('CONFIG not allowed (managed Redis): said, not failed', () => {
    const { maxmemoryPolicy: _m, appendonly: _a, maxclients: _c, ...bare } = server();
    const checks = diagnose(input({ facts: { ...input().facts, servers: [bare] } }));
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.find((c) => c.name === 'persistence')!.detail).toMatch(/not readable/);
  });

  it('a cluster needs a hash-tagged prefix', () => {
    expect(failed(input({ kind: 'cluster' }))).toEqual([expect.objectContaining({ name: 'hash-tag', fix: 'use --prefix "{tq}"' })]);
    expect(failed(input({ kind: 'cluster', prefix: '{tq}' }))).toEqual([]);
  });

  it('clocks: this host or a worker more than 1 s off', () => {
    const facts = { ...input().facts, workers: [worker('w1', { clockOffsetMs: -2500 })] };
    expect(failed(input({ facts }))[0]!.detail).toMatch(/worker w1 \(h1\) 2\.5s ahead/);
    expect(failed(input({ ownOffsetMs: 1500 }))[0]!.detail).toMatch(/this host 1\.5s behind/);
  });

  it('names: a holder that is not the beating process, two consumers with one name on one queue', () => {
    const b64 = Buffer.from('default').toString('base64');
    const facts = {
      ...input().facts,
      nameHolders: new Map([['w1', 'h2:7']]),
      servers: [server({ clientNames: [`tq:${b64}:w:w1`, `tq:${b64}:w:w1`, `other:${b64}:w:w1`] })],
    };
    expect(failed(input({ facts }))[0]).toMatchObject({
      name: 'worker-names',
      detail: '"w1" beats from h1:100 but is held by h2:7; 2 processes consume queue default as worker "w1"',
    });
  });

  it('history: gaps, and a backlog that is large or old', () => {
    expect(failed(input({ history: { dbFile: 'x.db', missedTotal: 3, backlog: 0 } }))[0]!.detail).toMatch(
      /3 batch\(es\) of run events were trimmed/,
    );
    expect(failed(input({ history: { dbFile: 'x.db', missedTotal: 0, backlog: 5, oldestUnrecordedMs: 10_000 } }))).toEqual([]);
    expect(failed(input({ history: { dbFile: 'x.db', missedTotal: 0, backlog: 5, oldestUnrecordedMs: 120_000 } }))[0]!.detail).toMatch(
      /5 event\(s\) not recorded yet, the oldest 120s old/,
    );
    expect(failed(input({ history: { dbFile: 'x.db', missing: true, missedTotal: 0, backlog: 0 } }))).toEqual([]);
  });

  it('queues with waiting runs and no consumer', () => {
    expect(failed(input({ unconsumed: [{ name: 'images', waiting: 4 }] }))[0]).toMatchObject({
      name: 'consumers',
      fix: 'start a worker for them: tq worker -Q images',
    });
  });
});
