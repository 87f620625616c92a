import type { Command } from 'commander';
import { configPath, loadConfig, resolveSettings, type GlobalFlags, type ResolvedConfig, type Settings } from '../config/index.js';
import { createOutput, type Output } from './output.js';

/** What every command gets: the global flags, the environment, and output. */
export interface CliContext {
  readonly flags: GlobalFlags;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly out: Output;
  /** Loads and validates the config file (once). */
  config(): Promise<ResolvedConfig>;
  settings(config: ResolvedConfig | undefined): Settings;
  /** Resolves when the user asks the process to stop (first SIGINT/SIGTERM). */
  readonly signals: SignalHub;
}

export interface SignalHub {
  /** Registers what to do on the first signal; a second signal rejects `forced`. */
  onStop(handler: (signal: NodeJS.Signals) => void): void;
  /** Rejects when a second signal arrives during shutdown. */
  readonly forced: Promise<never>;
}

export function createContext(command: Command, signals: SignalHub): CliContext {
  const flags = command.optsWithGlobals() as GlobalFlags;
  const env = process.env;
  const cwd = process.cwd();
  let loaded: Promise<ResolvedConfig> | undefined;
  return {
    flags,
    env,
    cwd,
    out: createOutput(env),
    config: () => (loaded ??= loadConfig(configPath(flags, env, cwd))),
    settings: (config) => resolveSettings(flags, env, config, cwd),
    signals,
  };
}
