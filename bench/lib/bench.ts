/** What scenarios share: the context they run in, their results, and the A B alternation. */
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { BenchOptions } from './options.js';
import { median, round } from './stats.js';

export interface BenchContext {
  options: BenchOptions;
  /** The private redis-server every measurement uses. */
  redisUrl: string;
  /** A client of it for the orchestrator (flushes between measurements, polling). */
  redis: Redis;
  /** Scratch directory of this benchmark run (projects, logs, images). */
  root: string;
  /** Progress and diagnostics (stderr). */
  log(line: string): void;
  /** Node flags for a process (`--cpu-prof` with `--profile DIR`), named after what it measures. */
  nodeFlags(label: string): string[];
  /** Values one scenario leaves for another (the memory scenario reads the drain's RSS). */
  shared: Map<string, number[]>;
  notes: string[];
}

export interface Goal {
  /** e.g. "ratio >= 0.90" */
  text: string;
  met: boolean;
}

export interface ScenarioResult {
  name: string;
  unit: string;
  tq: number;
  baseline: number;
  /** Always tq / baseline. */
  ratio: number;
  higherIsBetter: boolean;
  goal?: Goal;
  /** Every round's figure, in order. */
  samples: { tq: number[]; baseline: number[] };
}

export type Metrics = Record<string, number>;

export interface Rounds<T extends Metrics> {
  baseline: T[];
  tq: T[];
}

/**
 * Runs the plain BullMQ side and the tq side alternately (A B A B ...) for `rounds` rounds, with
 * Redis emptied before each measurement, and returns every round's metrics.
 */
export async function alternate<T extends Metrics>(
  ctx: BenchContext,
  label: string,
  sides: { baseline: (round: number) => Promise<T>; tq: (round: number) => Promise<T> },
  options: { rounds?: number; names?: { baseline: string; tq: string } } = {},
): Promise<Rounds<T>> {
  const rounds = options.rounds ?? ctx.options.rounds;
  const names = options.names ?? { baseline: 'BullMQ', tq: 'tq' };
  const width = Math.max(names.baseline.length, names.tq.length);
  const out: Rounds<T> = { baseline: [], tq: [] };
  for (let r = 1; r <= rounds; r++) {
    for (const side of ['baseline', 'tq'] as const) {
      await ctx.redis.flushdb();
      const metrics = await sides[side](r);
      out[side].push(metrics);
      const figures = Object.entries(metrics)
        .map(([k, v]) => `${k} ${round(v)}`)
        .join(', ');
      ctx.log(`  ${label} round ${r}/${rounds} ${names[side].padEnd(width)}  ${figures}`);
    }
  }
  return out;
}

/** One table row from rounds of metrics: medians of `key` on each side and their ratio. */
export function row<T extends Metrics>(
  rounds: Rounds<T>,
  key: keyof T & string,
  spec: { name: string; unit: string; higherIsBetter: boolean; goal?: (r: { tq: number; baseline: number; ratio: number }) => Goal },
): ScenarioResult {
  const samples = { tq: rounds.tq.map((m) => m[key]!), baseline: rounds.baseline.map((m) => m[key]!) };
  return result(spec, samples);
}

export function result(
  spec: { name: string; unit: string; higherIsBetter: boolean; goal?: (r: { tq: number; baseline: number; ratio: number }) => Goal },
  samples: { tq: number[]; baseline: number[] },
): ScenarioResult {
  const tq = median(samples.tq);
  const baseline = median(samples.baseline);
  const ratio = tq / baseline;
  return {
    name: spec.name,
    unit: spec.unit,
    tq: round(tq),
    baseline: round(baseline),
    ratio: Number(ratio.toFixed(2)),
    higherIsBetter: spec.higherIsBetter,
    ...(spec.goal ? { goal: spec.goal({ tq, baseline, ratio }) } : {}),
    samples: { tq: samples.tq.map(round), baseline: samples.baseline.map(round) },
  };
}

/** Goal helpers for rows. */
export const atLeast =
  (min: number) =>
  (r: { ratio: number }): Goal => ({ text: `ratio >= ${min.toFixed(2)}`, met: r.ratio >= min });
export const atMost =
  (max: number) =>
  (r: { ratio: number }): Goal => ({ text: `ratio <= ${max.toFixed(2)}`, met: r.ratio <= max });

export function logFile(ctx: BenchContext, name: string): string {
  return path.join(ctx.root, `${name}.log`);
}

export const MB = 1024 * 1024;
