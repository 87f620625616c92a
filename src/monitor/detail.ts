import type { RunEvent } from '../core/run-events.js';
import { FINAL_STATES } from '../core/states.js';
import { transition } from './run-list.js';
import type { RunDetailData } from './state.js';

/** Log lines the detail view keeps (the history keeps the same number). */
export const DETAIL_LOG_LINES = 200;

/**
 * Keeps an open detail view current from the run events alone: the stream carries progress,
 * log lines, results and errors, so a live run needs no extra Redis reads while it is watched.
 */
export function applyToDetail(d: RunDetailData, e: RunEvent): RunDetailData {
  if (e.jobId !== d.id) return d;
  if (e.type === 'progress') return FINAL_STATES.has(d.state) || e.progress === undefined ? d : { ...d, progress: e.progress };
  if (e.type === 'log') return e.log === undefined ? d : { ...d, logs: [...d.logs, e.log].slice(-DETAIL_LOG_LINES) };
  const errors =
    e.error !== undefined && (e.type === 'failed' || e.type === 'retrying') && !d.errors.some((x) => x.attempt === e.attempt)
      ? [...d.errors, { attempt: e.attempt, error: e.error, at: new Date(e.at).toISOString() }].sort((a, b) => a.attempt - b.attempt)
      : d.errors;
  const state = transition(d, e);
  if (state === undefined) return errors === d.errors ? d : { ...d, errors };
  const next: RunDetailData = { ...d, errors, state, attempt: Math.max(e.attempt, d.attempt) };
  if (e.worker !== undefined) next.worker = e.worker;
  if (e.dueAt !== undefined) next.dueAt = e.dueAt;
  if (e.type === 'retried' || e.type === 'requeued') {
    next.startedAt = null;
    if (e.type === 'retried') {
      next.finishedAt = null;
      next.runtimeMs = null;
      next.result = null;
    }
  }
  if (state === 'active') {
    next.startedAt = e.at;
    next.finishedAt = null;
    next.dueAt = null;
  }
  if (e.progress !== undefined) next.progress = e.progress;
  if (FINAL_STATES.has(state)) {
    next.finishedAt = e.at;
    next.dueAt = null;
    if (e.runtimeMs !== undefined) next.runtimeMs = Math.round(e.runtimeMs);
  }
  if (state === 'completed') {
    next.result = e.result ?? null;
    next.error = null;
    next.stack = null;
  }
  if (e.error !== undefined) {
    next.error = e.error;
    next.stack = e.stack ?? null;
  }
  return next;
}
