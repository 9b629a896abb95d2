/** Routes of the runtime-wide RPCs: version, status, runtime config, metric descriptors. */
import type { CriRoute } from "./_route.js";

export const runtimeRoutes: CriRoute[] = [
  { path: "/v1/runtime/version", rpc: "version" },
  { path: "/v1/runtime/status", rpc: "status" },
  { path: "/v1/runtime/config", rpc: "runtimeConfig" },
  { path: "/v1/runtime/config/update", rpc: "updateRuntimeConfig" },
  { path: "/v1/runtime/metrics/descriptors", rpc: "listMetricDescriptors" },
];
