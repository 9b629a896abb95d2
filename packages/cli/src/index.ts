/** @servin/cli: the servin commands, the daemon that `servin cri start` runs, and its configuration. */

export { type CriLogLine, parseCriLogLine } from "@servin/cri-http";
export { resolveStartConfig } from "./commands/cri/start.js";
export { runCriChecks } from "./commands/cri/test.js";
export {
  ConfigError,
  defaultConfig,
  type ImageBackendName,
  loadConfigFile,
  type RegistryHostConfig,
  type RuntimeBackendName,
  type ServinConfig,
} from "./config/config.js";
export { type ServinDaemon, startServinDaemon } from "./daemon/daemon.js";
export { runServin, servinCommand, VERSION } from "./main.js";
