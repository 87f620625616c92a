/**
 * Pruning history without long write locks. One DELETE of a million rows would hold the write
 * lock for many seconds (every row also leaves the search index and the counters), and every
 * other writer and the recorder's next batch would wait. Deleting in chunks, each its own
 * transaction, keeps each hold short; the chunk size follows the measured time per chunk, so a
 * slow disk gets smaller chunks instead of longer locks.
 */
export interface PruneOptions {
  /** Aim for chunks that take about this long, ms (default 25). */
  chunkMs?: number;
  /** Stop after about this long, ms, even with rows left (default 250): the caller comes back. */
  budgetMs?: number;
  /**
   * First chunk size, rows (default 20: the first chunks read cold pages and touch the search
   * index's oldest segments for the first time, up to ~0.7 ms a row; the size grows from there).
   */
  firstChunk?: number;
  /** The clock, ms (for tests). */
  now?: () => number;
}

export interface PruneReport {
  deleted: number;
  chunks: number;
  /** The longest chunk, ms: how long a write transaction was held at most. */
  longestMs: number;
  /** False when the budget ran out with rows left. */
  done: boolean;
}

const MIN_CHUNK = 10;
const MAX_CHUNK = 2_000;

/**
 * Calls `deleteChunk(limit)` (one transaction deleting at most `limit` rows, returning how many
 * it deleted) until it deletes fewer than asked or the time budget is spent.
 */
export function pruneInChunks(deleteChunk: (limit: number) => number, options: PruneOptions = {}): PruneReport {
  const now = options.now ?? (() => performance.now());
  const chunkMs = options.chunkMs ?? 25;
  const budgetMs = options.budgetMs ?? 250;
  const started = now();
  let size = options.firstChunk ?? 20;
  const report: PruneReport = { deleted: 0, chunks: 0, longestMs: 0, done: false };
  for (;;) {
    const t0 = now();
    const n = deleteChunk(size);
    const took = now() - t0;
    report.chunks++;
    report.deleted += n;
    report.longestMs = Math.max(report.longestMs, took);
    if (n < size) {
      report.done = true;
      return report;
    }
    if (now() - started >= budgetMs) return report;
    // Grow by half at most a step (the time per row is only estimated, and a disk shared with
    // other work stalls now and then), shrink at once; never more than MAX_CHUNK rows, so one
    // unlucky chunk stays short too.
    size = Math.round(Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.min(size * 1.5, (size * chunkMs) / Math.max(took, 0.5)))));
  }
}
