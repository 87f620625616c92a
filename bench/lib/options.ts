/** The benchmark's flags and the sizes they resolve to. */

export const SCENARIOS = ['enqueue', 'drain', 'roundtrip', 'resize', 'cli', 'memory', 'monitor', 'history'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  json: boolean;
  quick: boolean;
  /** A B rounds per measurement (the median of them is reported). */
  rounds: number;
  /** Runs per enqueue and drain measurement. */
  runs: number;
  /** Runs in flight for one-at-a-time enqueue. */
  inFlight: number;
  concurrencies: number[];
  /** Sequential round trips per measurement. */
  roundTrips: number;
  images: number;
  /** Waiting runs for the monitor's loaded measurement. */
  monitorRuns: number;
  /** Runs generated in `task_runs` for the history-at-scale figures. */
  historyRuns: number;
  /** Fresh processes per CLI measurement (the median is reported). */
  cliReps: number;
  only: Set<ScenarioName>;
  /** When set, every tq process runs with `--cpu-prof` and writes its profile here. */
  profileDir: string | undefined;
}

const HELP = `npm run bench -- [options]

  tq against plain BullMQ (+ sharp), in the same run, on a private redis-server.

  --json               print one JSON document on stdout (progress goes to stderr)
  --quick              a ~1 minute smoke run: smaller sizes, 1 round (figures are indicative only)
  --rounds N           A B rounds per measurement (default 3; quick 1)
  --runs N             runs per enqueue/drain measurement (default 20000; quick 4000)
  --in-flight N        runs in flight for one-at-a-time enqueue (default 64)
  --concurrency a,b    drain concurrencies (default 1,8,50)
  --round-trips N      sequential round trips (default 1000; quick 200)
  --images N           3000x2000 JPEGs for resize (default 200; quick 16)
  --cli-reps N         fresh processes per CLI figure (default 10; quick 3)
  --monitor-runs N     waiting runs for the monitor's loaded figure (default 100000; quick 20000)
  --history-runs N     runs in task_runs for history at scale (default 1000000; quick 100000)
  --only a,b           scenarios: ${SCENARIOS.join(', ')}
  --profile DIR        run every tq process with --cpu-prof, profiles in DIR
`;

export class HelpRequested extends Error {
  constructor() {
    super(HELP);
  }
}

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer (got "${value ?? ''}")`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    json: false,
    quick,
    rounds: quick ? 1 : 3,
    runs: quick ? 4000 : 20_000,
    inFlight: 64,
    concurrencies: [1, 8, 50],
    roundTrips: quick ? 200 : 1000,
    images: quick ? 16 : 200,
    monitorRuns: quick ? 20_000 : 100_000,
    historyRuns: quick ? 100_000 : 1_000_000,
    cliReps: quick ? 3 : 10,
    only: new Set(SCENARIOS),
    profileDir: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => argv[++i];
    switch (flag) {
      case '--json':
        options.json = true;
        break;
      case '--quick':
        break;
      case '--rounds':
        options.rounds = positive(flag, value());
        break;
      case '--runs':
        options.runs = positive(flag, value());
        break;
      case '--in-flight':
        options.inFlight = positive(flag, value());
        break;
      case '--concurrency':
        options.concurrencies = (value() ?? '').split(',').map((c) => positive(flag, c));
        break;
      case '--round-trips':
        options.roundTrips = positive(flag, value());
        break;
      case '--images':
        options.images = positive(flag, value());
        break;
      case '--monitor-runs':
        options.monitorRuns = positive(flag, value());
        break;
      case '--history-runs':
        options.historyRuns = positive(flag, value());
        break;
      case '--cli-reps':
        options.cliReps = positive(flag, value());
        break;
      case '--only': {
        const names = (value() ?? '').split(',').filter(Boolean);
        for (const name of names) {
          if (!(SCENARIOS as readonly string[]).includes(name))
            throw new Error(`--only: unknown scenario "${name}" (known: ${SCENARIOS.join(', ')})`);
        }
        options.only = new Set(names as ScenarioName[]);
        break;
      }
      case '--profile':
        options.profileDir = value();
        if (!options.profileDir) throw new Error('--profile needs a directory');
        break;
      case '-h':
      case '--help':
        throw new HelpRequested();
      default:
        throw new Error(`unknown option "${flag}" (see --help)`);
    }
  }
  return options;
}
