import { useApp, useInput, useStdout, type Key } from 'ink';
import { useEffect, useSyncExternalStore } from 'react';
import type { MonitorController } from '../controller.js';
import type { KeyPress } from '../keys.js';
import { Screen } from './screen.js';
import type { Theme } from './theme.js';

/**
 * The live monitor: binds the controller to ink. The only component with hooks; everything it
 * draws is the pure `Screen` of the controller's state.
 */
export function MonitorApp(props: { controller: MonitorController; theme: Theme }) {
  const { controller, theme } = props;
  const state = useSyncExternalStore(controller.subscribe, controller.getState);
  const { exit } = useApp();
  const { stdout } = useStdout();

  useEffect(() => {
    if (state.quit) exit();
  }, [state.quit, exit]);

  useEffect(() => {
    const onResize = () => controller.resize(stdout.columns || 80, stdout.rows || 24);
    onResize();
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [controller, stdout]);

  useInput((input, key) => {
    for (const press of toKeyPresses(input, key)) controller.key(press);
  });

  return <Screen state={state} theme={theme} />;
}

/**
 * Everything one read of the terminal holds, key by key. A paste, fast typing or an SSH link
 * delivers several keys in one read (`/failed` and Enter): ink reports them as one string, and
 * read as a single key it would mean nothing.
 */
export function toKeyPresses(input: string, key: Key): KeyPress[] {
  const chars = Array.from(input);
  const special = key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageUp || key.pageDown || key.home || key.end;
  if (chars.length <= 1 || special || key.ctrl) {
    const press = toKeyPress(input, key);
    return press ? [press] : [];
  }
  return chars.map(charPress);
}

/** One character of a multi-key read. */
function charPress(char: string): KeyPress {
  if (char === '\r' || char === '\n') return { name: 'enter' };
  if (char === '\t') return { name: 'tab' };
  if (char === '\u007f' || char === '\b') return { name: 'backspace' };
  if (char === '\u001b') return { name: 'escape' };
  const code = char.codePointAt(0) ?? 0;
  // Ctrl-letter arrives as its control code (Ctrl-C is 0x03).
  if (code < 0x20) return { name: 'char', char: String.fromCharCode(code + 0x60), ctrl: true };
  return { name: 'char', char };
}

/** Ink's key report in the monitor's terms. */
export function toKeyPress(input: string, key: Key): KeyPress | undefined {
  if (key.upArrow) return { name: 'up' };
  if (key.downArrow) return { name: 'down' };
  if (key.leftArrow) return { name: 'left' };
  if (key.rightArrow) return { name: 'right' };
  if (key.pageUp) return { name: 'pageUp' };
  if (key.pageDown) return { name: 'pageDown' };
  if (key.home) return { name: 'home' };
  if (key.end) return { name: 'end' };
  if (key.tab) return { name: key.shift ? 'backTab' : 'tab' };
  if (key.return) return { name: 'enter' };
  if (key.escape) return { name: 'escape' };
  // Most terminals send DEL (0x7f) for Backspace, which ink reports as `delete`.
  if (key.backspace || key.delete) return { name: 'backspace' };
  if (!input) return undefined;
  return { name: 'char', char: input, ...(key.ctrl ? { ctrl: true } : {}) };
}
