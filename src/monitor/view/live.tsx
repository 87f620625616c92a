import { format } from 'node:util';
import { render } from 'ink';
import type { MonitorController } from '../controller.js';
import { MonitorApp } from './app.js';

/** The terminal's alternate screen: the monitor takes it over and gives the shell back intact. */
const ENTER_ALT_SCREEN = '\u001b[?1049h';
const LEAVE_ALT_SCREEN = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

export interface LiveOptions {
  stdout: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  color: boolean;
}

/**
 * Draws the monitor full-screen until the user quits (or `controller` is told to quit), then
 * restores the terminal: raw mode off, cursor shown, the previous screen back.
 */
export async function runLive(controller: MonitorController, o: LiveOptions): Promise<void> {
  const restoreConsole = consoleToStatus(controller);
  o.stdout.write(ENTER_ALT_SCREEN);
  try {
    const app = render(<MonitorApp controller={controller} theme={{ color: o.color }} />, {
      stdout: o.stdout,
      stdin: o.stdin,
      // Ctrl-C arrives as a key (raw mode) and quits through the same path as `q`.
      exitOnCtrlC: false,
      patchConsole: false,
    });
    try {
      await app.waitUntilExit();
    } finally {
      app.unmount();
    }
  } finally {
    o.stdout.write(LEAVE_ALT_SCREEN + SHOW_CURSOR);
    restoreConsole();
  }
}

/**
 * Libraries report some errors with console.error (BullMQ does for connection errors nobody
 * listens to): on a full screen those lines would tear the frame, so while it is up, console
 * output goes to the status line, one line each.
 */
function consoleToStatus(controller: MonitorController): () => void {
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const to =
    (level: 'info' | 'warn' | 'error') =>
    (...args: unknown[]) =>
      controller.status(format(...args).split('\n')[0] ?? '', level);
  console.log = to('info');
  console.info = to('info');
  console.warn = to('warn');
  console.error = to('error');
  return () => Object.assign(console, saved);
}
