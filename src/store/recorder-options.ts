import type { TaskLogger } from '../core/task.js';

/** How a `Recorder` follows its stream (all optional). */
export interface RecorderOptions {
  /**
   * Which stream this recorder follows (the key prefix). Its position and lease are kept per
   * stream, so one database file can hold the history of several prefixes.
   */
  stream?: string;
  /** Payload keys masked before storing. */
  redactKeys?: readonly string[];
  /** Finished runs older than this (ms) are pruned; undefined keeps everything. */
  keepMs?: number;
  /** How far behind BullMQ's own event streams are read in the background, ms (default 1,000). */
  queueEventsLagMs?: number;
  /**
   * Rows that have not moved for this long are checked against Redis (see `reconcileRuns`);
   * default 60 s. Only the background loop (`start()`) reconciles, and only with a source
   * that can look runs up.
   */
  reconcileAfterMs?: number;
  batchSize?: number;
  /** How long a lease lasts without renewal, ms. */
  leaseMs?: number;
  /** How long the file may refuse writes without a break (locked by another process) before a warning, ms (default 2,000). */
  refusalWarnMs?: number;
  /** Rows remembered between batches while this recorder holds the lease (default 2,000; 0: none). */
  rememberRows?: number;
  logger?: TaskLogger;
}

export interface CatchUpResult {
  /** Run events applied. */
  applied: number;
  /** Stream entries (batches of events) trimmed before this file saw them (estimate), when a gap was found. */
  missed?: number;
}
