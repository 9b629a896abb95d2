/** @servin/runtime-core: the CRI runtime service, its RuntimeBackend seam, metadata stores and the memory backend. */

export * from "./backend.js";
export * from "./events/index.js";
export * from "./memory/index.js";
export type { RecoveryReport } from "./recover.js";
export * from "./service.js";
export * from "./store/index.js";
export type { ServiceStreamingRuntime, StreamingProvider } from "./streaming/provider.js";
