/** @servin/image-store: the CRI image service over an injected ImageBackend (memory, or disk: registry + content store). */
export * from "./backend.js";
export * from "./backends/disk.js";
export * from "./backends/memory.js";
export * from "./platform.js";
export { familiarString, type ImageReference, parseReference } from "./reference.js";
export type { RegistryConfig, StoreLimits } from "./registry-config.js";
export * from "./service.js";
