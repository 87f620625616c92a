export { openStore, type Store } from './store.js';
export { Recorder, type RecorderOptions, type CatchUpResult } from './recorder.js';
export { fileRefusal } from './file-refusal.js';
export { openDatabase, getMeta, setMeta, type SqliteDatabase } from './database.js';
export type { TaskRunRow, AttemptError, TaskRunsRepository } from './task-runs.js';
export { LAYOUT_VERSION } from './migrations.js';
export {
  HistoryQueries,
  percentile,
  lastChangeOf,
  finishedIn,
  type HistoryFilter,
  type TaskStats,
  type MinuteCount,
  type RecentKey,
  type RecentQuery,
} from './history.js';
export { openReader, storedRunOf, type RecordsReader, type StoredRun, type ImageFilter } from './reader.js';
export { syncHistoryFrom, type SyncReport } from './history-sync.js';
export { createAuditLog, type AuditLog, type AuditEntry, type AuditRow } from './audit.js';
export { pruneInChunks, type PruneOptions, type PruneReport } from './prune.js';
export type { RunCounts, SearchOptions, SearchResult, SearchSort, SearchOrder } from './search.js';
