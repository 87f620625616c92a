import { Command, CommanderError, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import { report } from './failure-report.js';
import { didYouMean } from '../core/suggest.js';
import { createContext, type SignalHub } from './context.js';
import { commandTable, type CommandSpec, type LazyAction } from './command-table.js';
import { createSignalHub, ForcedExit } from './signals.js';
import { commandPath, oneLineUsage } from './usage-error.js';
import { exitProcess } from '../runtime/process-guard.js';
import { TQ_VERSION } from '../runtime/version.js';
import { asOutOfMemory } from '../queue/memory.js';

const version = TQ_VERSION;

/** Runs a command's action: it gets the context and its arguments, and sets the exit code. */
function runner(action: LazyAction, signals: SignalHub, result: { code: number }) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    // A command with verbs and an action of its own (`tq inspect`) takes no operands: a word
    // left over is a mistyped verb, not "too many arguments".
    const verbs = command.commands.map((c) => c.name());
    const stray = verbs.length > 0 ? command.args[0] : undefined;
    if (stray !== undefined) {
      const hint = didYouMean(stray, verbs) ?? `one of: ${verbs.join(', ')}`;
      throw new UsageError(`unknown verb "${stray}" for ${commandPath(command)}`, { hint });
    }
    const ctx = createContext(command, signals);
    const run = await action.load();
    // Options of parent commands (`tq inspect --json queues`, `tq inspect queues --json`) count too.
    const rest = args.slice(0, -1);
    const own = rest[rest.length - 1] as Record<string, unknown>;
    rest[rest.length - 1] = { ...command.optsWithGlobals(), ...own };
    const code = await Promise.race([run(ctx, rest), signals.forced]);
    result.code = typeof code === 'number' ? code : 0;
  };
}

/** Adds `spec` (and its subcommands) to `parent`. */
function addCommand(parent: Command, spec: CommandSpec, signals: SignalHub, result: { code: number }): void {
  const command = parent.command(spec.name).description(spec.description);
  for (const [name, description] of spec.arguments ?? []) command.argument(name, description);
  for (const option of spec.options ?? []) {
    if (option instanceof Option) command.addOption(option);
    else command.option(option[0], option[1], option[2]);
  }
  if (spec.help) command.addHelpText('after', spec.help);
  command.configureOutput({ outputError: (text, write) => write(oneLineUsage(text, commandPath(command))) });
  if (spec.action && spec.commands) command.allowExcessArguments(true);
  if (spec.action) command.action(runner(spec.action, signals, result));
  for (const sub of spec.commands ?? []) addCommand(command, sub, signals, result);
}

export function buildProgram(result: { code: number }, signals: SignalHub): Command {
  const program = new Command('tq')
    .description('Distributed task queue for TypeScript: workers, beat, inspect and monitor on Redis (BullMQ), history in SQLite.')
    .version(version, '-V, --version')
    .option('--config <file>', 'config file (env TQ_CONFIG)', undefined)
    .option(
      '--redis <url>',
      'Redis URL: redis[s]://host:port, redis[s]+cluster://h1:p1,h2:p2 or redis[s]+sentinel://h1:p1,h2:p2/master (env TQ_REDIS_URL)',
    )
    .option('--db <file>', 'SQLite file for records and history (env TQ_DB, default .tq/<prefix>.db: .tq/tq.db)')
    .option('--prefix <prefix>', 'Redis key prefix, lets apps share a Redis (env TQ_PREFIX, default tq)')
    .option('--debug', 'show stack traces (env TQ_DEBUG=1)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(oneLineUsage(text, 'tq')) })
    .addHelpText(
      'after',
      `
Examples:
  $ tq demo                          thumbnails for sample images, end to end
  $ tq worker -Q images -c 4         run a worker
  $ tq enqueue resize photo.jpg --wait
`,
    );
  for (const spec of commandTable()) addCommand(program, spec, signals, result);
  return program;
}

/** The entry point: parses, runs one command, and is the only place that exits the process. */
export async function main(argv: string[]): Promise<void> {
  const result = { code: 0 };
  const signals = createSignalHub(exitProcess);
  const program = buildProgram(result, signals);
  program.exitOverride();
  const debug = argv.includes('--debug') || process.env.TQ_DEBUG === '1';
  // `tq inspect history | head -1`: the reader is gone and has what it wanted. Leave quietly,
  // as Unix tools do, instead of a stack for the next write to a closed pipe.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    exitProcess(0);
  });
  let code: number;
  try {
    await program.parseAsync(argv);
    code = result.code;
  } catch (err) {
    code = err instanceof CommanderError ? (err.exitCode === 0 ? 0 : 2) : report(err, debug, argv);
    // With --json a script reads stdout: every failure is one error document there, including
    // usage errors met before any command ran (a command's own failures are printed already).
    // Loaded here, not at the top: `tq --help` should not pay for the output helpers.
    const { errorDocument, isInDocument } = await import('./output.js');
    if (code !== 0 && argv.includes('--json') && !(err instanceof ForcedExit) && !isInDocument(err)) {
      const doc =
        err instanceof CommanderError
          ? { error: { code: 'E_USAGE', message: err.message.replace(/^error: /, ''), hint: 'see tq --help' } }
          : errorDocument(asOutOfMemory(err));
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    }
  }
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  exitProcess(code);
}
