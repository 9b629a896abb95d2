/** The one Logger type of every Servin layer, and the silent default. Platform-neutral: Node-only logging helpers live in @servin/node-kit. */

/**
 * Where a library's messages go. All four levels are required, so code that
 * logs never checks for a method; consola and `console` both fit as they are,
 * and `silentLogger` (or `{ ...silentLogger, warn: … }`) covers the rest. A
 * part that needs fewer levels takes `Pick<Logger, "warn">`.
 *
 * @example
 * const logger: Logger = consola;
 * logger.warn(`image "${ref}": layer ${digest} is not gzip`);
 */
export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
  /**
   * Whether an entry at `level` is written. Optional: a caller that would build an expensive message
   * asks first, and a logger without it is taken to write every level.
   */
  enabled?(level: LogLevel): boolean;
}

/** The four levels of a Logger, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const noop = () => {};

/**
 * A logger that drops everything: the library default (embedders choose where logs go).
 *
 * @example
 * const logger = options.logger ?? silentLogger;
 */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
