import fs from 'node:fs';
import path from 'node:path';
import { ROOT, makeProject, type TestProject } from '../helpers/cli.js';
import { loadConfig } from '../../src/config/index.js';
import { Producer } from '../../src/queue/index.js';

export function faultsProject(options: { redisUrl?: string; prefix?: string } = {}): TestProject {
  return makeProject(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'faults-config.ts.txt'), 'utf8'), options);
}

/** A producer on the project's config and prefix, in this process (for enqueueing many runs fast). */
export async function producerFor(project: TestProject): Promise<Producer> {
  const config = await loadConfig(path.join(project.dir, 'tasks.config.ts'));
  return Producer.connect(config, { redisUrl: project.redisUrl, prefix: project.prefix });
}

/** Counts of a recorded execution log: distinct ids and duplicates. */
export function executions(project: TestProject): { ids: Set<string>; total: number } {
  const file = project.file('executions.log');
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  return { ids: new Set(lines), total: lines.length };
}

/** Prints a line for RELIABILITY.md (vitest shows console output of tests). */
export function report(line: string): void {
  console.log(`[reliability] ${line}`);
}
