import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const guard = fileURLToPath(new URL('../../dist/runtime/process-guard.js', import.meta.url));

/** Runs a script with the guard installed in a fresh Node process (the guard is process-wide). */
function run(body: string) {
  const script = `
    import { installProcessGuard, HandlerExitError } from ${JSON.stringify(guard)};
    const uninstall = installProcessGuard({
      onFatal: (err) => { process.stdout.write('fatal: ' + err.message + '\\n'); },
      warn: (line) => process.stdout.write('warn: ' + line + '\\n'),
    });
    ${body}
  `;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
}

describe('process guard: handler code cannot end a worker silently', () => {
  it('process.exit inside a handler throws at the caller, and the process goes on', () => {
    const r = run(`
      const handler = async () => { await null; process.exit(0); };
      try { await handler(); } catch (err) { console.log('run failed:', err instanceof HandlerExitError, err.name, err.message); }
      console.log('still alive');
      uninstall();
      process.exit(3);
    `);
    expect(r.stdout).toContain('run failed: true FatalTaskError the handler called process.exit(0)');
    expect(r.stdout).toContain('still alive');
    // Uninstalled: the real exit again.
    expect(r.status).toBe(3);
  });

  it('an exception thrown from a timer calls onFatal once and exits 1', () => {
    const r = run(`
      setTimeout(() => { throw new Error('timer exploded'); }, 10);
      setTimeout(() => console.log('should not run'), 5000);
    `);
    expect(r.stdout).toContain('fatal: timer exploded');
    expect(r.stdout).not.toContain('should not run');
    expect(r.status).toBe(1);
  });

  it('process.exit from a timer is fatal, not a silent exit 0', () => {
    const r = run(`setTimeout(() => process.exit(0), 10); setTimeout(() => {}, 5000);`);
    expect(r.stdout).toMatch(/fatal: the handler called process\.exit\(0\)/);
    expect(r.status).toBe(1);
  });

  it('an unhandled rejection is one warning line and the process goes on', () => {
    const r = run(`
      Promise.reject(new Error('leaked'));
      Promise.reject(new Error('leaked'));
      setTimeout(() => { console.log('alive after'); uninstall(); process.exit(0); }, 50);
    `);
    expect(r.stdout.match(/warn: unhandled promise rejection \(leaked\)/g)).toHaveLength(1);
    expect(r.stdout).toContain('alive after');
    expect(r.status).toBe(0);
  });
});
