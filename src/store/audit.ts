/**
 * The audit trail of actions taken through `tq web` (enqueue, retry, cancel, pause, purge,
 * shutdown, bulk actions): who (the token's name, never its secret), with which role, what, on
 * what, and how it ended. Written once per action, never updated.
 */
import type { SqliteDatabase } from './database.js';

export interface AuditEntry {
  /** The token's name (`anonymous` when the server runs without tokens). */
  who: string;
  role: string;
  /** `enqueue`, `retry`, `cancel`, `pause`, `resume`, `purge`, `shutdown`, `bulk-retry`, ... */
  action: string;
  /** A run id, queue, worker or task the action was on. */
  target?: string | null;
  /** The history query of a bulk action. */
  query?: string | null;
  /** `ok`, or the error code it failed with (`E_NO_RUN`, `E_FORBIDDEN`, ...). */
  result: string;
  /** Anything more (counts, the error's message), as JSON text. */
  detail?: unknown;
}

export interface AuditRow {
  id: number;
  at: string;
  who: string;
  role: string;
  action: string;
  target: string | null;
  query: string | null;
  result: string;
  detail: string | null;
}

export interface AuditLog {
  record(entry: AuditEntry, at?: Date): number;
  /** Newest first; `before` pages back (an id from the last page). */
  list(options?: { limit?: number; before?: number; action?: string; who?: string }): AuditRow[];
}

export function createAuditLog(db: SqliteDatabase): AuditLog {
  const insert = db.prepare('INSERT INTO audit (at, who, role, action, target, query, result, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  return {
    record(e, at = new Date()) {
      const detail = e.detail === undefined ? null : JSON.stringify(e.detail);
      return Number(
        insert.run(at.toISOString(), e.who, e.role, e.action, e.target ?? null, e.query ?? null, e.result, detail).lastInsertRowid,
      );
    },
    list(o = {}) {
      const clauses: string[] = [];
      const params: unknown[] = [];
      if (o.before !== undefined) {
        clauses.push('id < ?');
        params.push(o.before);
      }
      if (o.action !== undefined) {
        clauses.push('action = ?');
        params.push(o.action);
      }
      if (o.who !== undefined) {
        clauses.push('who = ?');
        params.push(o.who);
      }
      const where = clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
      return db.prepare(`SELECT * FROM audit${where} ORDER BY id DESC LIMIT ?`).all(...params, o.limit ?? 50) as AuditRow[];
    },
  };
}
