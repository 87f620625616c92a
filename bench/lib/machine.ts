/** What the figures were measured on. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { ROOT } from './proc.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGB: number;
  os: string;
  node: string;
  redis: string;
  bullmq: string;
  ioredis: string;
  sharp: string;
  date: string;
}

function version(pkg: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function machine(redis: Redis): Promise<Machine> {
  const info = await redis.info('server');
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
    redis: /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown',
    bullmq: version('bullmq'),
    ioredis: version('ioredis'),
    sharp: version('sharp'),
    date: new Date().toISOString(),
  };
}
