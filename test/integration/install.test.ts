/**
 * The README's "Add tq to your app", followed in a scratch project outside this repository: pack
 * the build, install the tarball under the name `tq`, write the README's config and server, start
 * `tq worker` from the project's node_modules/.bin, call the route, get the result.
 *
 * Dependencies: tq's own come from this repository's node_modules, mirrored into the scratch
 * project as hard links (`cp -al`: npm may prune the mirror, and an unlinked hard link leaves the
 * original alone; a plain offline install cannot resolve them from an npm cache that holds no
 * package metadata). Where hard links are impossible (another filesystem), each dependency of
 * the package is a symbolic link instead. The tarball itself is installed by npm, offline.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ROOT, TqProcess, stopAfterTest } from '../helpers/cli.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-install-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The code blocks of the README's "Add tq to your app" section, in order, with their language. */
function readmeBlocks(): { lang: string; code: string }[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Add tq to your app');
  expect(start).toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

/** This repository's node_modules, as the scratch project's (see the file's comment). */
function mirrorDependencies(dependencies: Record<string, string>): void {
  const source = fs.realpathSync(path.join(ROOT, 'node_modules'));
  const target = path.join(scratch, 'node_modules');
  try {
    execFileSync('cp', ['-al', source, target], { stdio: 'pipe' });
    // npm rewrites its record of the tree in place: the copy must not share the original's.
    fs.rmSync(path.join(target, '.package-lock.json'), { force: true });
  } catch {
    fs.rmSync(target, { recursive: true, force: true });
    for (const name of Object.keys(dependencies)) {
      fs.mkdirSync(path.dirname(path.join(target, name)), { recursive: true });
      fs.symlinkSync(path.join(source, name), path.join(target, name), 'dir');
    }
  }
}

function npm(args: string[]): string {
  return execFileSync('npm', args, { cwd: scratch, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

describe('Add tq to your app (the README section, in a scratch project)', () => {
  it('installs the packed tarball as tq, runs tq worker from node_modules/.bin, and the route gets its result', async () => {
    // Pack the build (`npm test` builds first): only what an app needs is in it.
    const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch, '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [info] = JSON.parse(packed) as { name: string; filename: string; files: { path: string }[] }[];
    expect(info!.name).toBe('tq-toolkit');
    const tops = new Set(info!.files.map((f) => f.path.split('/')[0]));
    expect([...tops].sort()).toEqual(['README.md', 'RELIABILITY.md', 'bin', 'dist', 'package.json']);
    expect(info!.files.some((f) => f.path.endsWith('.map'))).toBe(false);

    // The app: a package of its own, tq installed under the alias the README gives.
    fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    mirrorDependencies(manifest.dependencies);
    npm(['install', '--offline', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', `tq@file:./${info!.filename}`]);
    const installed = JSON.parse(fs.readFileSync(path.join(scratch, 'node_modules', 'tq', 'package.json'), 'utf8')) as { name: string };
    expect(installed.name).toBe('tq-toolkit');

    // The README's files, as written there.
    const blocks = readmeBlocks();
    expect(blocks.map((b) => b.lang)).toEqual(['sh', 'ts', 'sh', 'js']);
    expect(blocks[0]!.code).toMatch(/^npm install tq@npm:tq-toolkit\b/);
    expect(blocks[2]!.code.trim()).toBe('npx tq worker');
    fs.writeFileSync(path.join(scratch, 'tasks.config.ts'), blocks[1]!.code);
    const server = blocks[3]!.code.replace(
      '.listen(3000);',
      ".listen(0, function () { console.log('listening ' + this.address().port); });",
    );
    expect(server).not.toBe(blocks[3]!.code);
    fs.writeFileSync(path.join(scratch, 'server.mjs'), server);

    const env = {
      ...process.env,
      TQ_REDIS_URL: inject('redisUrl'),
      TQ_PREFIX: `inst${randomBytes(4).toString('hex')}`,
      NO_COLOR: '1',
      TQ_DEBUG: '',
    };
    const start = (command: string, args: string[]) =>
      stopAfterTest(new TqProcess(spawn(command, args, { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] })));
    // `npx tq worker` runs node_modules/.bin/tq: run it directly (npx would add a process).
    const worker = start(path.join(scratch, 'node_modules', '.bin', 'tq'), ['worker']);
    await worker.waitFor(/ready/);
    const app = start(process.execPath, ['server.mjs']);
    await app.waitFor(/listening \d+/);
    const port = /listening (\d+)/.exec(app.output)![1];

    const res = await fetch(`http://127.0.0.1:${port}/hello?name=scratch`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; result: unknown };
    expect(body.result).toBe('hello scratch');
    await worker.waitFor(new RegExp(`hello\\[${body.id.slice(-6)}\\] succeeded`));
    // Both sides are the app the package.json names: the worker took the run as its own.
    expect(worker.output).not.toMatch(/belongs to app/);
  });
});
