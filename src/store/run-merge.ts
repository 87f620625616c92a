import { ATTEMPT_END_TYPES, type RunEvent } from '../core/run-events.js';
import { FINAL_STATES, supersedes, type TaskState } from '../core/states.js';
import { redact } from '../core/json.js';
import type { PlacedEvent } from './observed.js';
import { MAX_LOG_LINES, type ApplyOptions, type AttemptError, type TaskRunRow } from './run-row.js';

/** How one run event changes a `task_runs` row (the history repository applies it; see task-runs.ts). */

/** The last time formatted: a busy batch has many events in the same millisecond. */
let isoMs = Number.NaN;
let isoText = '';
const iso = (ms: number | undefined): string | null => {
  if (ms === undefined) return null;
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
};
const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));

function stateOf(event: RunEvent): TaskState | undefined {
  if (event.type === 'progress' || event.type === 'log') return undefined;
  if (event.type === 'enqueued') return event.dueAt !== undefined && event.dueAt > event.at ? 'delayed' : 'waiting';
  if (event.type === 'requeued' || event.type === 'retried') return 'waiting';
  return event.type;
}

/**
 * What one event does to a run's row (`row` undefined: the run is new). Three kinds of rule, in
 * this order: lines (progress, log) that never change the state; facts that fill in whatever
 * order they arrive in; and the state move, taken only when the event supersedes what is known.
 */
export function merge(
  row: TaskRunRow | undefined,
  event: RunEvent,
  options: ApplyOptions,
  prefix: string,
  placed?: PlacedEvent,
): TaskRunRow {
  return mergeEvent(row, endOfCurrentAttempt(row, event), options, prefix, placed);
}

/**
 * A tq worker's end of a run (final: BullMQ moved the job to failed or completed) ends the run
 * history shows running, whatever attempt number the row reached: BullMQ's own stream counts
 * executions (a run a killed worker left is started again), tq counts attempts, so a row may
 * show a later attempt than the end names. Without this the end was ignored and the run showed
 * `active` for good.
 */
function endOfCurrentAttempt(row: TaskRunRow | undefined, event: RunEvent): RunEvent {
  if (event.observed || !row || FINAL_STATES.has(row.state) || event.attempt >= row.attempt) return event;
  const state = stateOf(event);
  return state !== undefined && FINAL_STATES.has(state) ? { ...event, attempt: row.attempt } : event;
}

function mergeEvent(row: TaskRunRow | undefined, event: RunEvent, options: ApplyOptions, prefix: string, placed?: PlacedEvent): TaskRunRow {
  const observed = placed?.force ?? stateOf(event);
  // A progress or log line for a run not seen yet: it is running.
  const state = observed ?? 'active';
  const next: TaskRunRow = row ? { ...row } : newRow(event, state, prefix);
  if (observed === undefined) return applyLine(next, event);
  fillFacts(next, row, event, state, options);
  if (placed?.force) {
    if (placed.reopen) startOver(next, true);
    return moveTo(next, row, event, state, false);
  }
  const reopened = isReopenedByLaterAttempt(row, event);
  if (reopened) startOver(next, true);
  const handedBack = isHandBack(row, event);
  if (row && !handedBack && !reopened && !supersedes({ state: row.state, attempt: row.attempt }, { state, attempt: event.attempt }))
    return next;
  return moveTo(next, row, event, state, handedBack);
}

/**
 * A finished run that tq's own worker reports starting or ending a later attempt was retried
 * by something that did not tell tq's stream (bull-board, a plain BullMQ client): BullMQ counts
 * on from the earlier attempts, so only a retry can bring a later attempt after an end. The row
 * reopens as that attempt; the earlier attempts' errors stay.
 */
function isReopenedByLaterAttempt(row: TaskRunRow | undefined, event: RunEvent): boolean {
  if (!row || !FINAL_STATES.has(row.state) || event.observed) return false;
  // A run that ended before it started (attempt 0: expired, cancelled while waiting) still took
  // BullMQ's first attempt: only a second one is a retry.
  return (event.type === 'active' || ATTEMPT_END_TYPES.has(event.type)) && event.attempt > Math.max(row.attempt, 1);
}

function newRow(event: RunEvent, state: TaskState, prefix: string): TaskRunRow {
  return {
    job_id: event.jobId,
    task: event.task,
    queue: event.queue,
    payload: null,
    state,
    result: null,
    error: null,
    attempt: event.attempt,
    worker: null,
    enqueued_at: null,
    started_at: null,
    finished_at: null,
    runtime_ms: null,
    errors: null,
    stack: null,
    due_at: null,
    progress: null,
    logs: null,
    moved_at: null,
    updated_at: '',
    prefix,
  };
}

/** A progress value (ignored once the run is final) or a log line (the newest MAX_LOG_LINES kept). */
function applyLine(next: TaskRunRow, event: RunEvent): TaskRunRow {
  if (event.type === 'progress' && event.progress !== undefined && !FINAL_STATES.has(next.state)) next.progress = json(event.progress);
  if (event.type === 'log' && event.log !== undefined) {
    const lines = next.logs ? (JSON.parse(next.logs) as string[]) : [];
    lines.push(event.log);
    next.logs = JSON.stringify(lines.slice(-MAX_LOG_LINES));
  }
  return next;
}

/** Facts that do not depend on ordering: they fill in whenever they arrive. */
function fillFacts(next: TaskRunRow, row: TaskRunRow | undefined, event: RunEvent, state: TaskState, options: ApplyOptions): void {
  // The end of an attempt history already has (BullMQ's stream told it first): tq's own event
  // of it still says who ran it and for how long.
  // Its times are tq's then, on every host, whichever of the two events a host applied first.
  if (row && !event.observed && row.state === state && row.attempt === event.attempt && FINAL_STATES.has(state)) {
    if (event.worker !== undefined && next.worker === null) next.worker = event.worker;
    if (event.runtimeMs !== undefined && next.runtime_ms === null) next.runtime_ms = Math.round(event.runtimeMs);
    next.finished_at = iso(event.at);
    if (event.startedAt !== undefined) next.started_at = iso(event.startedAt);
  }
  if (event.payload !== undefined && next.payload === null) {
    next.payload = json(options.redactKeys?.length ? redact(event.payload, options.redactKeys) : event.payload);
  }
  if (event.type === 'enqueued' && next.enqueued_at === null) next.enqueued_at = iso(event.at);
  if (event.error !== undefined && (event.type === 'failed' || event.type === 'retrying'))
    addAttemptError(next, event.attempt, event.error, event.at);
  // When the run started is a fact too, even if its `active` event arrives after the end (or
  // never: an attempt's end carries its start, and a batch leaves the `active` event out).
  if (state === 'active' && next.started_at === null && event.attempt === next.attempt) next.started_at = iso(event.at);
  if (event.startedAt !== undefined && next.started_at === null && event.attempt === next.attempt) next.started_at = iso(event.startedAt);
}

/** Every attempt's error is kept once, in attempt order. */
function addAttemptError(next: TaskRunRow, attempt: number, error: string, at: number): void {
  const errors: AttemptError[] = next.errors ? (JSON.parse(next.errors) as AttemptError[]) : [];
  if (errors.some((e) => e.attempt === attempt)) return;
  errors.push({ attempt, error, at: new Date(at).toISOString() });
  errors.sort((a, b) => a.attempt - b.attempt);
  next.errors = JSON.stringify(errors);
}

/**
 * The legal steps back: a run handed back by a stopping worker (active -> waiting, same
 * attempt), and a finished run re-enqueued by an operator (`tq control retry`).
 */
function isHandBack(row: TaskRunRow | undefined, event: RunEvent): boolean {
  if (!row) return false;
  if (event.type === 'requeued') return row.state === 'active' && row.attempt === event.attempt;
  if (event.type === 'retried') return FINAL_STATES.has(row.state) && event.attempt >= row.attempt;
  return false;
}

/** The state move itself, with the fields that belong to the new state. */
function moveTo(next: TaskRunRow, row: TaskRunRow | undefined, event: RunEvent, state: TaskState, handedBack: boolean): TaskRunRow {
  next.state = state;
  next.moved_at = Math.max(row?.moved_at ?? event.at, event.at);
  next.attempt = Math.max(event.attempt, row?.attempt ?? 0);
  if (event.worker !== undefined) next.worker = event.worker;
  if (event.dueAt !== undefined) next.due_at = iso(event.dueAt);
  if (handedBack) startOver(next, event.type === 'retried');
  if (state === 'active') {
    next.started_at = iso(event.at);
    next.finished_at = null;
    next.due_at = null;
  }
  if (event.progress !== undefined) next.progress = json(event.progress);
  if (event.startedAt !== undefined) next.started_at = iso(event.startedAt);
  if (FINAL_STATES.has(state)) {
    next.finished_at = iso(event.at);
    if (event.runtimeMs !== undefined) next.runtime_ms = Math.round(event.runtimeMs);
    next.due_at = null;
  }
  if (state === 'completed') {
    next.result = json(event.result ?? null);
    next.error = null;
    next.stack = null;
  }
  if (event.error !== undefined) {
    next.error = event.error;
    next.stack = event.stack ?? null;
  }
  return next;
}

/** A handed-back run has not started; a retried one has not finished either. */
function startOver(next: TaskRunRow, retried: boolean): void {
  next.started_at = null;
  if (!retried) return;
  next.finished_at = null;
  next.runtime_ms = null;
  next.result = null;
}
