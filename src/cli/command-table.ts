import { Option } from 'commander';
import type { CliContext } from './context.js';
import { MAX_PRIORITY } from '../core/names.js';

/** A command's action: the context, then its arguments and merged options as commander parses them. */
type Action<A extends unknown[]> = (ctx: CliContext, ...args: A) => Promise<number | void>;

/** An action imported when its command runs: `tq --help` or `tq enqueue` never load the monitor. */
export interface LazyAction {
  load(): Promise<(ctx: CliContext, args: readonly unknown[]) => Promise<number | void>>;
}

/**
 * Declares a lazily imported action. Its parameter types come from the action itself; the one
 * conversion from commander's untyped arguments happens here.
 */
function lazy<A extends unknown[]>(load: () => Promise<Action<A>>): LazyAction {
  return {
    async load() {
      const action = await load();
      return (ctx, args) => action(ctx, ...(args as A));
    },
  };
}

/** `[flags, description, default?]`, or an `Option` for choices and defaults shown in help. */
export type OptionSpec = readonly [flags: string, description: string, defaultValue?: string] | Option;

/** One command of the table: what `--help` shows, and what runs. */
export interface CommandSpec {
  readonly name: string;
  readonly description: string;
  readonly arguments?: readonly (readonly [name: string, description?: string])[];
  readonly options?: readonly OptionSpec[];
  /** Help text after the options (examples). */
  readonly help?: string;
  readonly action?: LazyAction;
  readonly commands?: readonly CommandSpec[];
}

const JSON_OPTION = ['--json', 'print one JSON document'] as const;
const RUN_FILTERS: readonly OptionSpec[] = [
  ['--state <state>', 'waiting, delayed, active, retrying, completed, failed, cancelled, expired'],
  ['--task <name>', 'only runs of this task'],
  ['--queue <queue>', 'only runs of this queue'],
  ['--limit <n>', 'at most this many runs (default 20)'],
];
const HISTORY_FILTERS: readonly OptionSpec[] = [
  ...RUN_FILTERS,
  ['--since <duration>', 'only runs enqueued within this long (1h, 7d)'],
  ['--search <query>', 'a history query: words, "phrases" and terms like state:failed error:"premature end" payload.user:42'],
  ['--sort <key>', 'enqueued (default), finished or runtime'],
  ['--order <dir>', 'desc (default: newest or longest first) or asc'],
  ['--cursor <cursor>', 'the next page: the cursor the previous page printed'],
];

const inspect = () => import('./commands/inspect.js');
const control = () => import('./commands/control.js');

/** Every command of `tq`, in the order `tq --help` lists them. */
export function commandTable(): readonly CommandSpec[] {
  return [
    {
      name: 'worker',
      description: 'consume queues and run tasks',
      options: [
        ['-Q, --queues <list>', 'comma-separated queues (default: every queue the config uses)'],
        ['-c, --concurrency <n>', 'runs at once per queue (default: config worker.concurrency, else 1)'],
        ['-n, --name <name>', 'worker name (default: <host>.<pid>)'],
        new Option('-l, --loglevel <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'),
        new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'),
        ['--shutdown-timeout <duration>', 'on SIGTERM, how long active runs may finish before they are handed back (default 30s)'],
        ['--metrics-port <[host:]port>', "serve this worker's process metrics for Prometheus at /metrics (host default 127.0.0.1)"],
      ],
      help: '\nExamples:\n  $ tq worker\n  $ tq worker -Q images,default -c 4 -n thumbs-1\n  $ tq worker --log-format json --shutdown-timeout 2m\n',
      action: lazy(async () => (await import('./commands/worker.js')).workerCommand),
    },
    {
      name: 'enqueue',
      description: 'enqueue a run of a task (resize: files are copied into media and recorded)',
      arguments: [
        ['<task>', 'task name from the config'],
        ['[args...]', "positional arguments (files for resize; mapped onto the task's args otherwise)"],
      ],
      options: [
        ['--payload <json>', 'payload as JSON, or @file.json (merged with positional args)'],
        ['-q, --queue <queue>', "queue (default: the task's queue)"],
        ['--delay <duration>', 'start no earlier than this from now (10s, 5m)'],
        ['--at <iso>', 'start no earlier than this time (ISO 8601)'],
        ['--priority <n>', `lower runs first (0..${MAX_PRIORITY})`],
        ['--attempts <n>', "total attempts (default: the task's)"],
        ['--id <id>', 'custom run id; enqueueing an existing id again does nothing'],
        ['--expires <duration>', 'never start after this long from now (the run ends expired)'],
        ['--time-limit <duration>', "time limit for this run (overrides the task's timeout)"],
        ['--wait', 'wait for the result; exit 0 on success, 1 on failure'],
        ['--timeout <duration>', 'with --wait: give up after this long (exit 1)'],
        JSON_OPTION,
      ],
      help: '\nExamples:\n  $ tq enqueue resize photo.jpg --wait\n  $ tq enqueue resize photos/*.jpg\n  $ tq enqueue hello world --json\n  $ tq enqueue report --payload \'{"month":"2026-01"}\' --delay 10m\n',
      action: lazy(async () => (await import('./commands/enqueue.js')).enqueueCommand),
    },
    {
      name: 'inspect',
      description: 'see queues, workers, runs, tasks, schedules and history (no verb: an overview)',
      options: [JSON_OPTION],
      help: `
Examples:
  $ tq inspect                             overview: queues, workers, schedules, recent failures
  $ tq inspect queues --json
  $ tq inspect workers --ping              exits 1 when no worker answers (a health check)
  $ tq inspect tasks --state failed --task resize
  $ tq inspect task mwwa9h1ik3z232rp
  $ tq inspect history --since 1h --search img_58hw
`,
      action: lazy(async () => (await inspect()).inspectOverview),
      commands: [
        {
          name: 'queues',
          description: 'per queue: counts by state, paused, oldest waiting, consumers',
          arguments: [['[queue]', 'only this queue (exit 1 when it does not exist)']],
          options: [JSON_OPTION],
          action: lazy(async () => (await inspect()).inspectQueues),
        },
        {
          name: 'workers',
          description: 'live workers from their heartbeats; --ping asks each to answer',
          options: [['--ping', 'round trip through the control channel; exit 1 when none answers'], JSON_OPTION],
          action: lazy(async () => (await inspect()).inspectWorkers),
        },
        {
          name: 'tasks',
          description: 'runs known to Redis, newest first',
          options: [...RUN_FILTERS, JSON_OPTION],
          action: lazy(async () => (await inspect()).inspectTasks),
        },
        {
          name: 'task',
          description: 'everything about one run (falls back to SQLite history)',
          arguments: [['<id>', 'run id']],
          options: [JSON_OPTION],
          action: lazy(async () => (await inspect()).inspectTask),
        },
        {
          name: 'registered',
          description: 'tasks in the config with their options and the workers serving them',
          options: [JSON_OPTION],
          action: lazy(async () => (await inspect()).inspectRegistered),
        },
        {
          name: 'history',
          description: 'durable history from SQLite, with totals and p50/p95 runtime per task',
          options: [...HISTORY_FILTERS, JSON_OPTION],
          action: lazy(async () => (await inspect()).inspectHistory),
        },
        {
          name: 'audit',
          description: 'actions taken through tq web: who, role, action, target, query, result',
          options: [['--limit <n>', 'at most this many entries (default 50)'], JSON_OPTION],
          action: lazy(async () => (await inspect()).inspectAudit),
        },
        {
          name: 'schedule',
          description: 'schedules with their last and next fire',
          options: [JSON_OPTION],
          action: lazy(async () => (await inspect()).inspectSchedule),
        },
      ],
    },
    {
      name: 'history',
      description: "this host's durable history (SQLite)",
      commands: [
        {
          name: 'sync',
          description: "fill this host's history from another host's database file (after a long outage)",
          options: [['--from <file>', "another host's tq database (a copy is fine)"], JSON_OPTION],
          help: `
Runs and image records missing here are copied; those the other file knows further along move
forward; nothing moves backwards, so running it twice changes nothing. Redis is not needed.

Example:
  $ tq history sync --from /mnt/backup/web-1.db
`,
          action: lazy(async () => (await import('./commands/history.js')).historySyncCommand),
        },
      ],
    },
    {
      name: 'control',
      description: 'steer runs, queues and workers: retry, cancel, pause, resume, purge, shutdown',
      help: `
Examples:
  $ tq control retry mwwa9h1ik3z232rp
  $ tq control retry --failed --task resize
  $ tq control cancel mwwa9h1ik3z232rp
  $ tq control pause images && tq control resume images
  $ tq control purge images --state failed --yes
  $ tq control shutdown thumbs-1
`,
      commands: [
        {
          name: 'retry',
          description: 're-enqueue a failed run, or every failed run (--failed)',
          arguments: [['[id]', 'run id']],
          options: [['--failed', 'every failed run'], ['--task <name>', 'with --failed: only runs of this task'], JSON_OPTION],
          action: lazy(async () => (await control()).retryCommand),
        },
        {
          name: 'cancel',
          description: 'cancel a run: a waiting/delayed one is removed, an active one is aborted through ctx.signal (any host)',
          arguments: [['<id>', 'run id']],
          options: [JSON_OPTION],
          help: '\nExamples:\n  $ tq control cancel mwwa9h1ik3z232rp\n  $ tq control cancel report-2026-01 --json\n',
          action: lazy(async () => (await control()).cancelCommand),
        },
        {
          name: 'pause',
          description: 'workers stop taking new runs from a queue (all queues without one)',
          arguments: [['[queue]']],
          options: [JSON_OPTION],
          action: lazy(async () => (await control()).pauseCommand),
        },
        {
          name: 'resume',
          description: 'workers take runs from a paused queue again',
          arguments: [['[queue]']],
          options: [JSON_OPTION],
          action: lazy(async () => (await control()).resumeCommand),
        },
        {
          name: 'purge',
          description: 'remove runs in one state from a queue (all queues without one); asks first on a terminal',
          arguments: [['[queue]']],
          options: [['--state <state>', 'waiting (default), delayed, failed or completed'], ['--yes', 'do not ask'], JSON_OPTION],
          action: lazy(async () => (await control()).purgeCommand),
        },
        {
          name: 'shutdown',
          description: 'warm shutdown of one worker, or all',
          arguments: [['[worker]', 'worker name (see tq inspect workers)']],
          options: [JSON_OPTION],
          action: lazy(async () => (await control()).shutdownCommand),
        },
      ],
    },
    {
      name: 'beat',
      description: "enqueue the config's schedules on time; any number of beats can run, each fire time is enqueued once",
      options: [
        ['--dry-run', 'print the next fire times of every schedule in its time zone, and exit'],
        ['--count <n>', 'with --dry-run: fire times per schedule (default 5)'],
        ['--from <iso>', 'with --dry-run: list fire times after this instant instead of now (ISO 8601)'],
      ],
      help: '\nExamples:\n  $ tq beat\n  $ tq beat --dry-run --count 3\n  $ tq beat --dry-run --from 2026-03-08T00:00:00-05:00   # what fires around a DST change\n',
      action: lazy(async () => (await import('./commands/beat.js')).beatCommand),
    },
    {
      name: 'monitor',
      description: 'live full-screen view of queues, workers and runs (Flower in the terminal); --once prints one snapshot',
      options: [
        ['--once', 'print one plain snapshot of the panels and exit (also what happens when stdout is not a terminal)'],
        ['--interval <duration>', 'refresh period, 200ms to 60s (default 1s)'],
      ],
      help: '\nKeys: arrows/j k move, Tab switches panel, Enter details, / filter, r retry, c cancel, p pause/resume, ? help, q quit.\n\nExamples:\n  $ tq monitor\n  $ tq monitor --interval 2s\n  $ tq monitor --once                  # e.g. in a cron mail or a CI log\n  $ NO_COLOR=1 tq monitor --prefix app2\n',
      action: lazy(async () => (await import('./commands/monitor.js')).monitorCommand),
    },
    {
      name: 'doctor',
      description:
        'check a deployment (Redis, persistence, eviction, cluster tags, clocks, names, connections, history, consumers); exit 1 when anything is wrong',
      options: [JSON_OPTION],
      help: "\nExamples:\n  $ tq doctor\n  $ tq doctor --json | jq '.checks[] | select(.ok == false)'\n",
      action: lazy(async () => (await import('./commands/doctor.js')).doctorCommand),
    },
    {
      name: 'web',
      description: 'HTTP server: REST API, live events (SSE) and Prometheus /metrics; tokens from TQ_WEB_TOKENS or TQ_WEB_TOKENS_FILE',
      options: [
        ['--port <n>', 'port to listen on (default 5555; 0 picks a free one)'],
        ['--host <host>', 'address to bind (default 127.0.0.1; any other needs tokens)'],
        ['--read-only', 'refuse every action, whatever the role'],
        ['--allow-actions', 'without tokens: allow actions (the loopback server is read-only otherwise)'],
      ],
      help: '\nExamples:\n  $ tq web\n  $ TQ_WEB_TOKENS=ops:admin:$(openssl rand -hex 24) tq web --host 0.0.0.0\n  $ curl -H "Authorization: Bearer $TOKEN" localhost:5555/api/queues\n',
      action: lazy(async () => (await import('./commands/web.js')).webCommand),
    },
    {
      name: 'dev',
      description: 'worker for every queue and beat in one process; starts a private redis-server when none answers',
      options: [
        ['-c, --concurrency <n>', 'runs at once per queue'],
        ['--web', 'also serve tq web (REST API, events, /metrics) on 127.0.0.1'],
        ['--web-port <n>', 'with --web: its port (default 5555)'],
      ],
      help: '\nExamples:\n  $ tq dev\n  $ tq dev --web\n  $ tq dev --redis redis://127.0.0.1:6380\n',
      action: lazy(async () => (await import('./commands/dev.js')).devCommand),
    },
    {
      name: 'demo',
      description: 'the showcase: sample images in, thumbnails out, a table (own prefix and files)',
      options: [['-c, --concurrency <n>', 'worker concurrency', '2']],
      help: '\nExamples:\n  $ tq demo\n  $ NO_COLOR=1 tq demo\n',
      action: lazy(async () => (await import('./commands/demo.js')).demoCommand),
    },
  ];
}
