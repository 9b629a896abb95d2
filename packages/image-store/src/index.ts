/** @servin/image-store: the CRI image service, with memory and disk (registry + content store) backends. */
export { familiarString, type ImageReference, parseReference } from "./reference.js";
export type { RegistryConfig, StoreLimits } from "./registry-config.js";
export {
  createImageService,
  type ExportOptions,
  hostPlatform,
  type ImageLogger,
  type ImageServiceOptions,
  type ImportOptions,
  type Platform,
  type ServinImageService,
} from "./service.js";
