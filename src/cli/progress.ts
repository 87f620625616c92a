import cliProgress from 'cli-progress';
import type { Output } from './output.js';

export interface Progress {
  increment(n?: number): void;
  update(value: number): void;
  stop(): void;
}

/** A progress bar on stderr when it is a terminal and there is more than one item; else silent. */
export function createProgress(out: Output, label: string, total: number): Progress {
  if (!out.errTty || total < 2) return { increment: () => undefined, update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(10)} {bar} {value}/{total} {percentage}% eta {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    increment: (n = 1) => bar.increment(n),
    update: (value) => bar.update(value),
    stop: () => bar.stop(),
  };
}
