import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { TQ_BIN, stopAfterTest, type TestProject } from '../helpers/cli.js';
import { appProject, eventually } from '../helpers/project.js';

const sockets: string[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) {
    try {
      execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // already gone with its last session
    }
  }
});
const json = (stdout: string) => JSON.parse(stdout);

/**
 * `tq monitor` in a real terminal: a tmux session of its own (own server socket, so nothing
 * else in tmux is touched), driven with send-keys and read with capture-pane.
 */
class Terminal {
  readonly socket = `tq-mon-${randomBytes(4).toString('hex')}`;
  private readonly session = 'monitor';

  constructor(
    private readonly project: TestProject,
    size = { columns: 120, rows: 40 },
  ) {
    sockets.push(this.socket);
    this.tmux(
      'new-session',
      '-d',
      '-s',
      this.session,
      '-x',
      String(size.columns),
      '-y',
      String(size.rows),
      '-c',
      project.dir,
      this.command(),
    );
  }

  private command(): string {
    const env = Object.entries(this.project.env).map(([k, v]) => `${k}=${v}`);
    // CI set makes ink print only the final frame; the monitor must see a plain terminal.
    return `env -u CI ${env.join(' ')} ${process.execPath} ${TQ_BIN} monitor; echo "monitor exited $?"; sleep 60`;
  }

  /** Starts the monitor again in the same window (after it quit). */
  restart(): void {
    this.tmux('respawn-pane', '-k', '-t', this.session, '-c', this.project.dir, this.command());
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', this.session);
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', this.session, ...keys);
  }

  async waitFor(re: RegExp, what: string, timeoutMs = 20_000): Promise<string> {
    let last = '';
    try {
      return await eventually(
        () => {
          last = this.screen();
          return re.test(last) ? last : undefined;
        },
        timeoutMs,
        what,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; screen:\n${last}`);
    }
  }
}

describe('tq monitor', () => {
  it('--once (and any stdout that is not a terminal) prints one plain snapshot and exits 0', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'mon-w']));
    await worker.waitFor(/ready/);
    const ok = json((await project.run(['enqueue', 'hello', 'snap', '--wait', '--json'])).stdout);
    const bad = json((await project.run(['enqueue', 'boom', '--wait', '--json'])).stdout);
    const res = await project.run(['monitor', '--once'], { env: { COLUMNS: '160' } });
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    expect(res.stdout).not.toMatch(/\u001b/);
    const lines = res.stdout.trimEnd().split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(160);
    expect(lines[0]).toMatch(new RegExp(`^tq monitor  redis://127\\.0\\.0\\.1:\\d+  prefix ${project.prefix}  1 worker online`));
    expect(lines[1]).toMatch(/completed 1 +failed 1 .*failed 1h 1/);
    expect(res.stdout).toMatch(/default +0 +0 +0 +1 +1 /);
    expect(res.stdout).toMatch(/mon-w .* default/);
    expect(res.stdout).toMatch(new RegExp(`${bad.id} +boom +failed +2 .*boom: the task failed on purpose`));
    expect(res.stdout).toMatch(new RegExp(`${ok.id} +hello +completed +1 `));
    // Piped without --once: the same snapshot.
    const piped = await project.run(['monitor'], { env: { COLUMNS: '160' } });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toMatch(new RegExp(`${ok.id} +hello +completed`));
    const bad1 = await project.run(['monitor', '--interval', '10ms']);
    expect(bad1.code).toBe(2);
    expect(bad1.stderr).toMatch(/--interval must be from 200ms to 60s/);
    const help = await project.run(['monitor', '--help']);
    expect(help.stdout).toMatch(/tq monitor --once/);
  });

  it('live in a terminal: runs appear as they complete, a failure is inspected and retried, p pauses the queue, and a restart keeps the runs', async () => {
    const project = appProject();
    const worker = stopAfterTest(project.spawn(['worker', '-Q', 'default', '-n', 'tmux-w']));
    await worker.waitFor(/ready/);
    const term = new Terminal(project);
    await term.waitFor(/Runs .*live[\s\S]*1 worker online|1 worker online[\s\S]*Runs .*live/, 'the monitor to start');

    const ids: string[] = [];
    for (const name of ['one', 'two', 'three'])
      ids.push(json((await project.run(['enqueue', 'hello', name, '--wait', '--json'])).stdout).id);
    await term.waitFor(
      new RegExp(
        [...ids]
          .reverse()
          .map((id) => `${id} +hello +completed`)
          .join('[\\s\\S]*'),
      ),
      'three completed runs, newest first',
    );

    // A failure: it is the newest change, so the top row; Enter shows why.
    const bad = json((await project.run(['enqueue', 'boom', '--wait', '--json'])).stdout).id as string;
    await term.waitFor(new RegExp(`›\\S* *${bad} +boom +failed`), 'the failed run on the top row');
    term.keys('Enter');
    await term.waitFor(/error +boom: the task failed on purpose[\s\S]*#2/, 'the detail view with the error and both attempts');
    term.keys('r');
    await term.waitFor(new RegExp(`retried boom run ${bad}: waiting on queue default`), 'the retry confirmation');
    term.keys('Escape');
    await eventually(
      async () => json((await project.run(['inspect', 'task', bad, '--json'])).stdout).attempt === 3,
      15_000,
      'the third attempt',
    );

    // p pauses the selected queue (the first one, default).
    term.keys('p');
    await term.waitFor(/paused queue default/, 'the pause confirmation');
    await term.waitFor(/default .*paused/, 'the paused flag');
    const queues = json((await project.run(['inspect', 'queues', '--json'])).stdout).queues as { name: string; paused: boolean }[];
    expect(queues.find((q) => q.name === 'default')?.paused).toBe(true);

    // q restores the terminal and exits at once; a new monitor still lists the runs.
    const quitAt = Date.now();
    term.keys('q');
    await term.waitFor(/monitor exited 0/, 'the monitor to exit', 5000);
    expect(Date.now() - quitAt).toBeLessThan(3000);
    expect(term.screen()).not.toMatch(/Queues/);
    term.restart();
    await term.waitFor(new RegExp(`${ids[0]} +hello +completed`), 'earlier runs after a restart');
  }, 90_000);
});
