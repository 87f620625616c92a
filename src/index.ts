/**
 * tq's public API: what `tasks.config.ts` and application code import from `'tq'`.
 *
 * @packageDocumentation
 */
export { defineConfig, defineTask, DEFAULT_QUEUE } from './core/task.js';
export type {
  TqConfig,
  TaskDefinition,
  TaskOptions,
  TaskContext,
  TaskLogger,
  BackoffOptions,
  EnqueueOptions,
  ScheduleDefinition,
  HistoryOptions,
  WorkerDefaults,
  CliInputContext,
  PreparedRun,
  PayloadOf,
  ResultOf,
  MissedPolicy,
} from './core/task.js';
export { TqError, UsageError, ConfigError, RedisUnavailableError, RuntimeError, FatalTaskError } from './core/errors.js';
export { TASK_STATES, type TaskState } from './core/states.js';
export type { RecordsStore, ImageRecord, ImagesRepository, ImageStatus } from './core/records.js';
export {
  createClient,
  RunFailedError,
  type ClientImage,
  type ClientOptions,
  type HistoryQuery,
  type HistoryReader,
  type ImageQuery,
  type ImagesReader,
  type MediaFiles,
  type EnqueuedFile,
  type FileInput,
  type RunHandle,
  type RunInfo,
  type TqClient,
} from './client/index.js';
export type { StandardSchemaV1 } from './core/schema.js';
export { startWorker, startBeat } from './runtime/public.js';
export type { StartWorkerOptions, WorkerHandle, WorkerStats, WorkerShutdownReport } from './runtime/worker.js';
export type { StartBeatOptions, BeatHandle, BeatStats } from './runtime/beat.js';
export type { ConnectionOptions } from './runtime/resolve.js';
export type { RuntimeLogger } from './runtime/logger.js';
export type { RunEvent } from './core/run-events.js';
