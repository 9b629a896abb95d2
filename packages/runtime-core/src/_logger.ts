/** The logger shape the runtime service accepts; silent unless the embedder passes one. */

export interface RuntimeLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

const noop = () => {};

/** A logger that drops everything (the library default: embedders choose where logs go). */
export const silentLogger: RuntimeLogger = { debug: noop, info: noop, warn: noop, error: noop };
