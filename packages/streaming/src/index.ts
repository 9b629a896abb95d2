/** @servin/streaming: the CRI streaming server (Exec, Attach, PortForward over SPDY/3.1 and WebSocket). */
export { CHANNEL } from "./channels.js";
export type { AttachRequest, ExecRequest, PortForwardRequest } from "./requests.js";
export type {
  AttachSpec,
  ExecSpec,
  PortForwardSpec,
  SessionIo,
  StreamingRuntime,
  TerminalSize,
} from "./runtime.js";
export { type StreamingServer, type StreamingServerOptions, startStreamingServer } from "./server.js";
export { TokenCache, type TokenCacheOptions } from "./tokens.js";
