/** `tq monitor`: a live terminal view of queues, workers and runs (see state.ts for the words). */
export { MonitorController, type ControllerOptions } from './controller.js';
export { createMonitorSource, type MonitorSource, type MonitorSourceOptions } from './source.js';
export { runLive, type LiveOptions } from './view/live.js';
export { renderSnapshot } from './view/snapshot.js';
export type { MonitorState } from './state.js';
