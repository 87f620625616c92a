import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeProject } from '../helpers/cli.js';
import { appConfig } from '../helpers/project.js';

// libfaketime shifts one process's clock (CI installs the Debian package `faketime`).
const FAKETIME_LIB = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
].find((f) => fs.existsSync(f));
const skewed = (offset: string) => {
  if (!FAKETIME_LIB) throw new Error('libfaketime is missing: install the Debian package `faketime` (CI does)');
  return { LD_PRELOAD: FAKETIME_LIB, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
};

const WARNING = "warning: this host's clock is 5.0s ahead of Redis's; delayed runs are promoted on workers' clocks: run NTP";

describe('clock warnings of short-lived commands', () => {
  it('inspect, control and enqueue on a host 5 s ahead each warn once at start; in step, none does', async () => {
    const project = makeProject(appConfig());
    for (const args of [
      ['inspect', 'queues'],
      ['control', 'pause', 'default'],
      ['enqueue', 'hello', 'x'],
    ]) {
      const res = await project.run(args, { env: skewed('+5s') });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr.split('\n').filter((l) => l.includes('clock'))).toEqual([WARNING]);
    }
    const inStep = await project.run(['inspect', 'queues']);
    expect(inStep.stderr).not.toMatch(/clock/);
    const doctor = await project.run(['doctor', '--json'], { env: skewed('+5s') });
    const clocks = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find(
      (c) => c.name === 'clocks',
    );
    expect(clocks).toMatchObject({ ok: false, detail: expect.stringMatching(/this host 5\.0s ahead/) });
  });
});
