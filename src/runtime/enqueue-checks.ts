/**
 * What `tq enqueue` checks before anything is stored, and the JSON it prints for each run:
 * shared with `tq web`'s enqueue so both accept and answer the same.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError, errorMessage } from '../core/errors.js';
import { assertJsonPayload, parseJsonArg } from '../core/json.js';
import { argSpec, argsUsage, payloadShapeProblem } from '../core/task.js';
import type { ResolvedTask } from '../config/index.js';
import type { EnqueuedRun, RunOutcome } from '../queue/index.js';

/** `--payload @file.json` reads the JSON from a file (payloads too big for a command line). */
function readPayloadText(text: string, cwd: string): string {
  if (!text.startsWith('@')) return text;
  const file = path.resolve(cwd, text.slice(1));
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--payload ${text}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

/** Positionals onto the task's `args` names, merged over `--payload`. */
export function payloadFromArgs(
  task: ResolvedTask,
  args: readonly string[],
  payloadText: string | undefined,
  cwd = process.cwd(),
): unknown {
  const base = payloadText !== undefined ? parseJsonArg(readPayloadText(payloadText, cwd)) : undefined;
  // `--payload null` stays null (and is refused for a task that takes an object), not `{}`.
  if (args.length === 0) return base === undefined ? {} : base;
  if (args.length > task.args.length) {
    const takes =
      task.args.length === 0
        ? 'takes no positional arguments (use --payload JSON)'
        : `takes ${task.args.length} argument(s): ${task.args.map((a) => argSpec(a).key).join(' ')}`;
    throw new UsageError(`task "${task.name}" ${takes}; got ${args.length}`);
  }
  if (base !== undefined && (typeof base !== 'object' || base === null || Array.isArray(base))) {
    throw new UsageError('--payload must be a JSON object when positional arguments are given');
  }
  const payload: Record<string, unknown> = { ...(base as Record<string, unknown> | undefined) };
  args.forEach((value, i) => {
    payload[argSpec(task.args[i]!).key] = value;
  });
  return payload;
}

/**
 * Refuses a payload the handler could not read, before anything is stored: a value that is not
 * JSON or too big, a non-object for a task that takes an object, and a required `args` name
 * that neither a positional nor `--payload` gave (`hello` would greet "undefined").
 */
export function checkPlainPayload(task: ResolvedTask, payload: unknown, limitBytes: number): void {
  assertJsonPayload(payload, 'payload', limitBytes);
  const problem = payloadShapeProblem({ name: task.name, args: task.args, takesFiles: false }, payload);
  if (problem !== undefined) throw new UsageError(problem);
  const given = payload as Record<string, unknown>;
  const missing = task.args.map(argSpec).filter((a) => !a.optional && given[a.key] === undefined);
  if (missing.length > 0) {
    throw new UsageError(`${task.name} needs ${missing.map((a) => `<${a.key}>`).join(' ')}`, {
      hint: `usage: tq enqueue ${task.name} ${argsUsage(task.args)}`,
    });
  }
}

/** One run as `tq enqueue --json` prints it (and `POST /api/enqueue` answers). */
export function enqueuedRunJson(
  run: EnqueuedRun,
  meta: Record<string, unknown> | undefined,
  outcome: RunOutcome | undefined,
): Record<string, unknown> & { id: string; state: string; error?: string } {
  return {
    id: run.id,
    task: run.task,
    queue: run.queue,
    state: outcome ? (outcome.state === 'timeout' ? outcome.lastState : outcome.state) : run.state,
    ...(run.existed ? { existed: true } : {}),
    ...(run.dueAt !== undefined ? { dueAt: new Date(run.dueAt).toISOString() } : {}),
    ...(meta ?? {}),
    ...(outcome?.state === 'completed' ? { result: outcome.result } : {}),
    ...(outcome && 'error' in outcome ? { error: outcome.error } : {}),
    ...(outcome?.state === 'timeout' ? { error: 'timed out waiting for the result' } : {}),
  };
}
