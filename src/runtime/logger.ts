/** Where a process started from code writes its diagnostics (the CLI passes its own formatter). */
export interface RuntimeLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Writes out anything buffered (called before the process ends on a crash). */
  flush?(): void;
}

/** The default: `console` (info on stdout, warnings and errors on stderr), tagged so they are recognisable. */
export const consoleLogger: RuntimeLogger = {
  info: (m) => console.info(`tq: ${m}`),
  warn: (m) => console.warn(`tq: warning: ${m}`),
  error: (m) => console.error(`tq: error: ${m}`),
};
