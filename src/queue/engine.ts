/**
 * BullMQ and ioredis, the queue engine, loaded with `require`. Both are CommonJS: imported from
 * ESM, Node first scans every module they re-export for export names (cjs-module-lexer), which
 * cost a fresh `tq enqueue` about 150 ms of its ~600 ms on a 2-core host (see `npm run bench`).
 * Values come from here; types still come from the packages (`import type`).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const bullmq = require('bullmq') as typeof import('bullmq');

export const { Queue, QueueEvents, Worker, Job, DelayedError, UnrecoverableError, createRedisBackend, raw2NextJobData } = bullmq;
export type Queue = import('bullmq').Queue;
export type Job = import('bullmq').Job;
export type QueueEvents = import('bullmq').QueueEvents;
export type Worker = import('bullmq').Worker;

export { Redis } from './redis-client.js';
