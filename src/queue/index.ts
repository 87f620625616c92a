export { connect, checkServer, ensureLayout, deletePrefix, type Redis } from './connection.js';
export { Producer, type EnqueuedRun, type EnqueueRequest, type RunOutcome } from './producer.js';
export { WorkerRuntime, type WorkerRuntimeOptions, type ShutdownReport, type IsolatedRun } from './worker.js';
export { RunEventReader, RunEventWriter } from './run-stream.js';
export { newRunId, checkRunId } from './run-id.js';
export { tqKeys } from './keys.js';
export { startPrivateRedis, redisAnswers, freePort, type PrivateRedis } from './local-redis.js';
