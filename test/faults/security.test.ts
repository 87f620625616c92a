import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TqProcess } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';
import { faultsProject } from './helpers.js';

const PASSWORD = 'Pa55-w0rd-never-printed';
const ACL_PASSWORD = 'acl-s3cret-never-printed';

/** A redis-server of this test's own with a password, an ACL user with tq's least privileges, and TLS. */
async function secureRedis(): Promise<{ port: number; tlsPort: number; dir: string; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-sec-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=tq-test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  const [port, tlsPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      'server.crt',
      '--tls-key-file',
      'server.key',
      '--tls-ca-cert-file',
      'ca.crt',
      '--tls-auth-clients',
      'no',
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--requirepass',
      PASSWORD,
      '--dir',
      dir,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  let admin: Redis | undefined;
  for (let i = 0; !admin; i++) {
    const candidate = new Redis({ port, password: PASSWORD, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    candidate.on('error', () => undefined);
    try {
      await candidate.connect();
      admin = candidate;
    } catch (err) {
      candidate.disconnect();
      if (i > 100 || child.exitCode !== null) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // The least a worker, a producer and the monitor need (see the README, "Security").
  await admin.call(
    'ACL',
    'SETUSER',
    'tqapp',
    'on',
    `>${ACL_PASSWORD}`,
    '~sec*',
    '&sec*',
    '+@all',
    '-@dangerous',
    '+info',
    '+client|setname',
    '+client|getname',
  );
  admin.disconnect();
  return {
    port,
    tlsPort,
    dir,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('security: passwords, ACL users and TLS', () => {
  let server: Awaited<ReturnType<typeof secureRedis>>;
  beforeAll(async () => {
    server = await secureRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  const cases = (): { name: string; url: string; secret: string; env: Record<string, string> }[] => [
    { name: 'password', url: `redis://:${PASSWORD}@127.0.0.1:${server.port}`, secret: PASSWORD, env: {} },
    { name: 'ACL user', url: `redis://tqapp:${ACL_PASSWORD}@127.0.0.1:${server.port}`, secret: ACL_PASSWORD, env: {} },
    {
      name: 'TLS (rediss://)',
      url: `rediss://:${PASSWORD}@127.0.0.1:${server.tlsPort}`,
      secret: PASSWORD,
      env: { NODE_EXTRA_CA_CERTS: path.join(server.dir, 'ca.crt') },
    },
  ];

  it('worker, enqueue, inspect and control work, and no password appears in any output', async () => {
    for (const c of cases()) {
      const project = faultsProject({ redisUrl: c.url, prefix: `sec${c.name.length}` });
      const env = { ...c.env };
      const worker: TqProcess = project.spawn(['worker', '-Q', 'default', '-n', 'secure'], { env });
      try {
        await worker.waitFor(/ready/);
        const outputs: string[] = [worker.output];
        const enq = await project.run(['enqueue', 'hello', c.name, '--wait'], { env });
        expect(enq.code, c.name).toBe(0);
        expect(JSON.parse(enq.stdout)).toBe(`hello ${c.name}`);
        for (const args of [
          ['inspect'],
          ['inspect', 'workers', '--ping', '--json'],
          ['inspect', 'queues'],
          ['control', 'cancel', 'missing-run'],
        ]) {
          const res = await project.run(args, { env });
          outputs.push(res.stdout, res.stderr);
          if (args[1] !== 'cancel') expect(res.code, `${c.name}: ${args.join(' ')}`).toBe(0);
        }
        outputs.push(enq.stdout, enq.stderr, worker.output);
        const all = outputs.join('\n');
        expect(all, c.name).not.toContain(c.secret);
        expect(all, c.name).toMatch(/:\*\*\*@127\.0\.0\.1/);
      } finally {
        await worker.stop();
      }
    }
  }, 120_000);

  it('a wrong password fails with one line and exit 1, without echoing the password', async () => {
    const wrong = 'wrong-Secret-123';
    const project = faultsProject({ redisUrl: `redis://:${wrong}@127.0.0.1:${server.port}` });
    for (const args of [['enqueue', 'hello', 'x'], ['worker'], ['inspect', '--debug']]) {
      const res = await project.run(args);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stdout + res.stderr).not.toContain(wrong);
      expect(res.stderr).toMatch(/cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: .*(WRONGPASS|invalid|password)/i);
    }
  });
});
