/** @servin/node-kit: the Node pieces every Servin layer needs, written once. */
export {
  ATOMIC_TEMP_MARKER,
  type AtomicWriteOptions,
  atomicWriteFile,
  isAtomicTempFile,
  syncDir,
} from "./atomic-write.js";
export { type DiskUsage, diskUsage } from "./disk-usage.js";
export { ignoreEnoent, isEnoent } from "./enoent.js";
export {
  boundedLogger,
  boundLogText,
  DEFAULT_LOG_BOUNDS,
  type LogBounds,
  type Logger,
  type LogLevel,
  silentLogger,
} from "./logger.js";
export { type DefaultPaths, defaultPaths } from "./paths.js";
export { ensurePrivateDir, PRIVATE_DIR_MODE } from "./private-dir.js";
export { type PtyInput, type PtyInputOptions, ptyInput } from "./pty-input.js";
