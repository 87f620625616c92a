export { startWorker, type StartWorkerOptions, type WorkerHandle, type WorkerStats, type WorkerShutdownReport } from './worker.js';
export { startBeat, type StartBeatOptions, type BeatHandle, type BeatStats } from './beat.js';
export { startRecorder, catchUpHistory, catchUpUntilFinal, type RunningRecorder } from './history.js';
export { devRedis, clearPrefix, type DevRedis } from './dev-redis.js';
export { resolveProcess, type ConfigInput, type ConnectionOptions } from './resolve.js';
export { consoleLogger, type RuntimeLogger } from './logger.js';
export { TQ_VERSION } from './version.js';
