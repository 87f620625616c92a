import { Command, CommanderError, Option } from 'commander';
import { TqError, errorMessage } from '../core/errors.js';
import { maskRedisUrl, scrubSecret } from '../core/url.js';
import { createContext, type CliContext, type SignalHub } from './context.js';
import { TQ_VERSION } from './version.js';

const version = TQ_VERSION;

/** A second SIGINT/SIGTERM during shutdown: leave now. */
export class ForcedExit extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal} again: exiting at once`);
  }
}

function createSignalHub(): SignalHub {
  const handlers: ((signal: NodeJS.Signals) => void)[] = [];
  let rejectForced: (err: ForcedExit) => void = () => undefined;
  const forced = new Promise<never>((_, reject) => {
    rejectForced = reject;
  });
  forced.catch(() => undefined);
  let count = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1 && handlers.length > 0) {
      for (const h of handlers) h(signal);
      return;
    }
    rejectForced(new ForcedExit(signal));
    if (handlers.length === 0) process.exit(130);
  };
  let installed = false;
  return {
    onStop(handler) {
      handlers.push(handler);
      if (!installed) {
        installed = true;
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      }
    },
    forced,
  };
}

type Action = (ctx: CliContext, ...args: any[]) => Promise<number | void>;

/** Wraps a lazily imported command: it gets the context and its arguments, returns an exit code. */
function lazy(load: () => Promise<Action>, signals: SignalHub, result: { code: number }) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const ctx = createContext(command, signals);
    const action = await load();
    // Options of parent commands (`tq inspect --json queues`, `tq inspect queues --json`) count too.
    const rest = args.slice(0, -1);
    const own = rest[rest.length - 1] as Record<string, unknown>;
    rest[rest.length - 1] = { ...command.optsWithGlobals(), ...own };
    const code = await Promise.race([action(ctx, ...rest), signals.forced]);
    result.code = typeof code === 'number' ? code : 0;
  };
}

export function buildProgram(result: { code: number }, signals: SignalHub): Command {
  const program = new Command('tq')
    .description('Distributed task queue for TypeScript: workers, beat, inspect and monitor on Redis (BullMQ), history in SQLite.')
    .version(version, '-V, --version')
    .option('--config <file>', 'config file (env TQ_CONFIG)', undefined)
    .option('--redis <url>', 'Redis URL, redis:// or rediss:// (env TQ_REDIS_URL)')
    .option('--db <file>', 'SQLite file for records and history (env TQ_DB, default .tq/tq.db)')
    .option('--prefix <prefix>', 'Redis key prefix, lets apps share a Redis (env TQ_PREFIX, default tq)')
    .option('--debug', 'show stack traces (env TQ_DEBUG=1)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ tq demo                          thumbnails for sample images, end to end
  $ tq worker -Q images -c 4         run a worker
  $ tq enqueue resize photo.jpg --wait
`,
    );

  program
    .command('worker')
    .description('consume queues and run tasks')
    .option('-Q, --queues <list>', 'comma-separated queues (default: every queue the config uses)')
    .option('-c, --concurrency <n>', 'runs at once per queue (default: config worker.concurrency, else 1)')
    .option('-n, --name <name>', 'worker name (default: <host>.<pid>)')
    .addOption(new Option('-l, --loglevel <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addOption(new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'))
    .option('--shutdown-timeout <duration>', 'on SIGTERM, how long active runs may finish before they are handed back (default 30s)')
    .addHelpText('after', '\nExamples:\n  $ tq worker\n  $ tq worker -Q images,default -c 4 -n thumbs-1\n  $ tq worker --log-format json --shutdown-timeout 2m\n')
    .action(lazy(async () => (await import('./commands/worker.js')).workerCommand, signals, result));

  program
    .command('enqueue')
    .description('enqueue a run of a task (resize: files are copied into media and recorded)')
    .argument('<task>', 'task name from the config')
    .argument('[args...]', "positional arguments (files for resize; mapped onto the task's args otherwise)")
    .option('--payload <json>', 'payload as JSON, or @file.json (merged with positional args)')
    .option('-q, --queue <queue>', 'queue (default: the task\'s queue)')
    .option('--delay <duration>', 'start no earlier than this from now (10s, 5m)')
    .option('--at <iso>', 'start no earlier than this time (ISO 8601)')
    .option('--priority <n>', 'lower runs first (0..2097151)')
    .option('--attempts <n>', 'total attempts (default: the task\'s)')
    .option('--id <id>', 'custom run id; enqueueing an existing id again does nothing')
    .option('--expires <duration>', 'never start after this long from now (the run ends expired)')
    .option('--time-limit <duration>', "time limit for this run (overrides the task's timeout)")
    .option('--wait', 'wait for the result; exit 0 on success, 1 on failure')
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 1)')
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\nExamples:\n  $ tq enqueue resize photo.jpg --wait\n  $ tq enqueue resize photos/*.jpg\n  $ tq enqueue hello world --json\n  $ tq enqueue report --payload \'{"month":"2026-01"}\' --delay 10m\n',
    )
    .action(lazy(async () => (await import('./commands/enqueue.js')).enqueueCommand, signals, result));

  const inspectAction = (name: string) => lazy(async () => (await import('./commands/inspect.js'))[name as 'inspectOverview'] as Action, signals, result);
  const inspect = program
    .command('inspect')
    .description('see queues, workers, runs, tasks, schedules and history (no verb: an overview)')
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      `
Examples:
  $ tq inspect                             overview: queues, workers, schedules, recent failures
  $ tq inspect queues --json
  $ tq inspect workers --ping              exits 1 when no worker answers (a health check)
  $ tq inspect tasks --state failed --task resize
  $ tq inspect task mwwa9h1ik3z232rp
  $ tq inspect history --since 1h --search img_58hw
`,
    )
    .action(inspectAction('inspectOverview'));
  const filters = (c: Command, history = false) => {
    c.option('--state <state>', 'waiting, delayed, active, retrying, completed, failed, cancelled, expired')
      .option('--task <name>', 'only runs of this task')
      .option('--queue <queue>', 'only runs of this queue')
      .option('--limit <n>', 'at most this many runs (default 20)');
    if (history) c.option('--since <duration>', 'only runs enqueued within this long (1h, 7d)').option('--search <text>', 'runs whose payload, result or error contains the text');
    return c.option('--json', 'print one JSON document');
  };
  inspect.command('queues').description('per queue: counts by state, paused, oldest waiting, consumers').option('--json', 'print one JSON document').action(inspectAction('inspectQueues'));
  inspect
    .command('workers')
    .description('live workers from their heartbeats; --ping asks each to answer')
    .option('--ping', 'round trip through the control channel; exit 1 when none answers')
    .option('--json', 'print one JSON document')
    .action(inspectAction('inspectWorkers'));
  filters(inspect.command('tasks').description('runs known to Redis, newest first')).action(inspectAction('inspectTasks'));
  inspect.command('task').description('everything about one run (falls back to SQLite history)').argument('<id>', 'run id').option('--json', 'print one JSON document').action(inspectAction('inspectTask'));
  inspect.command('registered').description('tasks in the config with their options and the workers serving them').option('--json', 'print one JSON document').action(inspectAction('inspectRegistered'));
  filters(inspect.command('history').description('durable history from SQLite, with totals and p50/p95 runtime per task'), true).action(inspectAction('inspectHistory'));
  inspect.command('schedule').description('schedules with their last and next fire').option('--json', 'print one JSON document').action(inspectAction('inspectSchedule'));

  const controlAction = (name: string) => lazy(async () => (await import('./commands/control.js'))[name as 'cancelCommand'] as Action, signals, result);
  const control = program
    .command('control')
    .description('steer runs, queues and workers: retry, cancel, pause, resume, purge, shutdown')
    .addHelpText(
      'after',
      `
Examples:
  $ tq control retry mwwa9h1ik3z232rp
  $ tq control retry --failed --task resize
  $ tq control cancel mwwa9h1ik3z232rp
  $ tq control pause images && tq control resume images
  $ tq control purge images --state failed --yes
  $ tq control shutdown thumbs-1
`,
    );
  control
    .command('retry')
    .description('re-enqueue a failed run, or every failed run (--failed)')
    .argument('[id]', 'run id')
    .option('--failed', 'every failed run')
    .option('--task <name>', 'with --failed: only runs of this task')
    .option('--json', 'print one JSON document')
    .action(controlAction('retryCommand'));
  control
    .command('cancel')
    .description('cancel a run: a waiting/delayed one is removed, an active one is aborted through ctx.signal (any host)')
    .argument('<id>', 'run id')
    .option('--json', 'print one JSON document')
    .addHelpText('after', '\nExamples:\n  $ tq control cancel mwwa9h1ik3z232rp\n  $ tq control cancel report-2026-01 --json\n')
    .action(controlAction('cancelCommand'));
  control.command('pause').description('workers stop taking new runs from a queue (all queues without one)').argument('[queue]').option('--json', 'print one JSON document').action(controlAction('pauseCommand'));
  control.command('resume').description('workers take runs from a paused queue again').argument('[queue]').option('--json', 'print one JSON document').action(controlAction('resumeCommand'));
  control
    .command('purge')
    .description('remove runs in one state from a queue (all queues without one); asks first on a terminal')
    .argument('[queue]')
    .option('--state <state>', 'waiting (default), delayed, failed or completed')
    .option('--yes', 'do not ask')
    .option('--json', 'print one JSON document')
    .action(controlAction('purgeCommand'));
  control.command('shutdown').description('warm shutdown of one worker, or all').argument('[worker]', 'worker name (see tq inspect workers)').option('--json', 'print one JSON document').action(controlAction('shutdownCommand'));

  program
    .command('beat')
    .description('enqueue the config\'s schedules on time; any number of beats can run, each fire time is enqueued once')
    .option('--dry-run', 'print the next fire times of every schedule in its time zone, and exit')
    .option('--count <n>', 'with --dry-run: fire times per schedule (default 5)')
    .option('--from <iso>', 'with --dry-run: list fire times after this instant instead of now (ISO 8601)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ tq beat\n  $ tq beat --dry-run --count 3\n  $ tq beat --dry-run --from 2026-03-08T00:00:00-05:00   # what fires around a DST change\n',
    )
    .action(lazy(async () => (await import('./commands/beat.js')).beatCommand, signals, result));

  program
    .command('monitor')
    .description('live full-screen view of queues, workers and runs (Flower in the terminal); --once prints one snapshot')
    .option('--once', 'print one plain snapshot of the panels and exit (also what happens when stdout is not a terminal)')
    .option('--interval <duration>', 'refresh period, 200ms to 60s (default 1s)')
    .addHelpText(
      'after',
      '\nKeys: arrows/j k move, Tab switches panel, Enter details, / filter, r retry, c cancel, p pause/resume, ? help, q quit.\n\nExamples:\n  $ tq monitor\n  $ tq monitor --interval 2s\n  $ tq monitor --once                  # e.g. in a cron mail or a CI log\n  $ NO_COLOR=1 tq monitor --prefix app2\n',
    )
    .action(lazy(async () => (await import('./commands/monitor.js')).monitorCommand, signals, result));

  program
    .command('dev')
    .description('worker for every queue and beat in one process; starts a private redis-server when none answers')
    .option('-c, --concurrency <n>', 'runs at once per queue')
    .addHelpText('after', '\nExamples:\n  $ tq dev\n  $ tq dev --redis redis://127.0.0.1:6380\n')
    .action(lazy(async () => (await import('./commands/dev.js')).devCommand, signals, result));

  program
    .command('demo')
    .description('the showcase: sample images in, thumbnails out, a table (own prefix and files)')
    .option('-c, --concurrency <n>', 'worker concurrency', '2')
    .addHelpText('after', '\nExamples:\n  $ tq demo\n  $ NO_COLOR=1 tq demo\n')
    .action(lazy(async () => (await import('./commands/demo.js')).demoCommand, signals, result));

  return program;
}

function report(err: unknown, debug: boolean, argv: readonly string[]): number {
  const stderr = process.stderr;
  // Never print a Redis password, even inside messages from libraries.
  const redisArg = argv[argv.indexOf('--redis') + 1] ?? process.env.TQ_REDIS_URL;
  let password: string | undefined;
  try {
    password = redisArg ? decodeURIComponent(new URL(redisArg).password) || undefined : undefined;
  } catch {
    password = undefined;
  }
  const clean = (text: string) => scrubSecret(text, password);
  if (err instanceof ForcedExit) {
    stderr.write(`tq: ${err.message}\n`);
    return 1;
  }
  if (err instanceof TqError) {
    stderr.write(`tq: ${clean(err.message)}${err.hint ? ` — ${err.hint}` : ''}\n`);
    if (debug && err.stack) stderr.write(`${clean(err.stack)}\n`);
    return err.exitCode;
  }
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  stderr.write(`tq: internal error: ${clean(errorMessage(err))}${debug ? '' : ' (run with --debug for the stack)'}\n`);
  if (debug && err instanceof Error && err.stack) stderr.write(`${clean(err.stack)}\n`);
  return 1;
}

/** The entry point: parses, runs one command, and is the only place that exits the process. */
export async function main(argv: string[]): Promise<void> {
  const result = { code: 0 };
  const signals = createSignalHub();
  const program = buildProgram(result, signals);
  program.exitOverride();
  const debug = argv.includes('--debug') || process.env.TQ_DEBUG === '1';
  let code: number;
  try {
    await program.parseAsync(argv);
    code = result.code;
  } catch (err) {
    code = err instanceof CommanderError ? (err.exitCode === 0 ? 0 : 2) : report(err, debug, argv);
  }
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

export { maskRedisUrl };
