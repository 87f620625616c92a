import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { TqConfig } from '../core/task.js';
import { Problems } from './problems.js';
import type { ResolvedConfig } from './resolved.js';
import {
  resolveHistory,
  resolveLocations,
  resolvePayloadLimit,
  resolveResultLimit,
  resolveSchedulesSection,
  resolveTimezone,
  resolveWorker,
} from './validate-sections.js';
import { resolveTasks } from './validate-tasks.js';
import { appName } from './app-name.js';

const TOP_KEYS = new Set([
  'tasks',
  'schedules',
  'timezone',
  'media',
  'redis',
  'db',
  'prefix',
  'name',
  'history',
  'payloadLimit',
  'resultLimit',
  'worker',
]);

/**
 * Validates a loaded config and resolves it (durations to ms, paths to absolute, defaults).
 * Every section is checked even when an earlier one is wrong, and every problem is reported at
 * once, each naming its key and what is allowed.
 */
export function resolveConfig(raw: unknown, file: string | undefined, dir: string): ResolvedConfig {
  const where = file ? path.relative(process.cwd(), file) || file : 'config';
  if (!raw || typeof raw !== 'object') {
    throw new ConfigError(`${where}: the default export must be defineConfig({ tasks: { ... } })`, [], {
      hint: "export default defineConfig({ tasks: { hello: defineTask({ run: () => 'hi' }) } })",
    });
  }
  const config = raw as TqConfig & Record<string, unknown>;
  const problems = new Problems();
  for (const key of Object.keys(config)) {
    if (!TOP_KEYS.has(key)) problems.add(key, `unknown key (allowed: ${[...TOP_KEYS].join(', ')})`);
  }
  const taskOptions = resolveTasks(config.tasks, problems);
  const schedules = resolveSchedulesSection(config.schedules, [...taskOptions.keys()], config.payloadLimit, problems);
  const timezone = resolveTimezone(config.timezone, problems);
  const { media, redis, allowEviction, db, prefix } = resolveLocations(config, problems);
  const history = resolveHistory(config.history, problems);
  const payloadLimit = resolvePayloadLimit(config.payloadLimit, problems);
  const resultLimit = resolveResultLimit(config.resultLimit, problems);
  const tasks = new Map([...taskOptions].map(([name, task]) => [name, { ...task, resultLimit }]));
  const resolved: ResolvedConfig = {
    file,
    dir,
    tasks,
    schedules,
    timezone,
    mediaDir: path.resolve(dir, media),
    history,
    payloadLimit,
    resultLimit,
    worker: resolveWorker(config.worker, problems),
    queues: [...new Set([...tasks.values()].map((t) => t.queue))].sort(),
    redis,
    allowEviction,
    db,
    prefix,
    // A config loaded from a file belongs to the package the file is in. An object (from code)
    // does not know where it was written, and guessing from the working directory could name a
    // web app's runs differently from its workers': it names an app only with `name`.
    app: problems.nonEmptyString('name', config.name) ?? (file !== undefined ? appName(dir) : undefined),
  };

  const list = problems.list;
  if (list.length > 0) {
    const head = list.length === 1 ? `${where}: ${list[0]}` : `${where}: ${list.length} problems:\n  ${list.join('\n  ')}`;
    throw new ConfigError(head, list);
  }
  return resolved;
}
