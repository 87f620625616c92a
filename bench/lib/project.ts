/** A throwaway tq project per measurement: its own directory, prefix and SQLite file. */
import fs from 'node:fs';
import path from 'node:path';

/** The same application as `bench/tq/app-config.ts`, as the `tq` binary loads it. */
export const CONFIG_SOURCE = `import { defineConfig, defineTask } from 'tq';
import { resizeImage } from 'tq/tasks';

export default defineConfig({
  media: 'media',
  tasks: {
    noop: defineTask({ queue: 'bench', run: async () => null }),
    hello: defineTask({ args: ['name'], run: async ({ name }: { name: string }) => \`hello \${name}\` }),
    resize: resizeImage({ maxWidth: 800, maxHeight: 600, quality: 85, queue: 'images' }),
  },
});
`;

export interface BenchProject {
  dir: string;
  prefix: string;
  dbFile: string;
  configFile: string;
  /** Environment for `tq` processes and tq client scripts. */
  env: Record<string, string>;
}

let counter = 0;

/** A new project directory under `root` with the bench config, using `redisUrl`. */
export function makeProject(root: string, label: string, redisUrl: string): BenchProject {
  counter += 1;
  const prefix = `tq-${label}-${counter}`;
  const dir = path.join(root, prefix);
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'tasks.config.ts');
  fs.writeFileSync(configFile, CONFIG_SOURCE);
  const dbFile = path.join(dir, '.tq', 'tq.db');
  return {
    dir,
    prefix,
    dbFile,
    configFile,
    env: { TQ_REDIS_URL: redisUrl, TQ_PREFIX: prefix, TQ_DB: dbFile, TQ_CONFIG: configFile },
  };
}

/** A prefix (and scratch directory) for a plain BullMQ measurement. */
export function baselinePrefix(root: string, label: string): { prefix: string; dir: string } {
  counter += 1;
  const prefix = `bull-${label}-${counter}`;
  const dir = path.join(root, prefix);
  fs.mkdirSync(dir, { recursive: true });
  return { prefix, dir };
}
