export { connect, checkServer, deletePrefix, isCluster, serverNodes, scanKeys, type Redis } from './connection.js';
export { ensureLayout } from './layout.js';
export { assertWritable, asOutOfMemory, EvictionPolicyError, readMemory, RedisOutOfMemoryError, type RedisMemory } from './memory.js';
export { MemoryWatch } from './memory-watch.js';
export { Producer, type EnqueuedRun, type EnqueueRequest, type RunOutcome } from './producer.js';
export { refuseSharedPrefix } from './worker/app-identity.js';
export { WorkerRuntime, type WorkerRuntimeOptions, type WorkerStats, type ShutdownReport, type IsolatedRun } from './worker/runtime.js';
export { RunEventReader, RunEventWriter } from './run-stream.js';
export { newRunId, checkRunId } from './run-id.js';
export { tqKeys } from './keys.js';
export { startPrivateRedis, redisAnswers, freePort, type PrivateRedis } from './local-redis.js';
export { Admin, type CancelOutcome, type FoundRun } from './admin.js';
export { failureState, TIME_LIMIT, CANCELLED, EXPIRED } from '../core/run-outcome.js';
export { publishControl, requestCancel, type ControlMessage } from './control.js';
export { RedisBeatStore, connectBeatBackend } from './beat-store.js';
export { liveWorkers, HEARTBEAT_INTERVAL_MS, HEARTBEAT_TTL_MS, type WorkerHeartbeat } from './heartbeat.js';
export {
  queueStats,
  workerStatuses,
  listRuns,
  runDetail,
  pingWorkers,
  runState,
  hasNoConsumer,
  consumersOf,
  STUCK_AFTER_MS,
  type QueueStats,
  type WorkerStatus,
  type RunSummary,
  type RunDetail,
} from './inspector.js';
export type { PurgeState, RetryFailedReport } from './admin.js';
export { unparseableLabel, unparseableReason, type Unparseable } from './unparseable-jobs.js';
export { gatherDeployment, streamBacklog, type DeploymentFacts, type ServerFacts } from './deployment.js';
export { warnIfSkewed } from './clock.js';
export { redisTarget } from './connection.js';
export { removeRun } from './remove-run.js';
export { runnableSince } from './runnable-age.js';
