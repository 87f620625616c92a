/**
 * ioredis alone, loaded with `require` (see engine.ts for why). Modules that only talk to Redis
 * (connections, the run-event stream) import it from here, so a process or thread that never
 * runs a queue (the history recorder's thread) does not load BullMQ at all.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ioredis = require('ioredis') as typeof import('ioredis');

export const { Redis, Cluster } = ioredis;
export type Redis = import('ioredis').Redis;
export type Cluster = import('ioredis').Cluster;
