/** Routes of the container RPCs, one per CRI RPC. `/container/events` streams NDJSON. */
import type { CriRoute } from "./_route.js";

export const containerRoutes: CriRoute[] = [
  { path: "/v1/runtime/container/create", rpc: "createContainer" },
  { path: "/v1/runtime/container/start", rpc: "startContainer" },
  { path: "/v1/runtime/container/stop", rpc: "stopContainer" },
  { path: "/v1/runtime/container/remove", rpc: "removeContainer" },
  { path: "/v1/runtime/container/list", rpc: "listContainers" },
  { path: "/v1/runtime/container/status", rpc: "containerStatus" },
  { path: "/v1/runtime/container/update", rpc: "updateContainerResources" },
  { path: "/v1/runtime/container/reopen-log", rpc: "reopenContainerLog" },
  { path: "/v1/runtime/container/exec-sync", rpc: "execSync" },
  { path: "/v1/runtime/container/exec", rpc: "exec" },
  { path: "/v1/runtime/container/attach", rpc: "attach" },
  { path: "/v1/runtime/container/stats", rpc: "containerStats" },
  { path: "/v1/runtime/container/list-stats", rpc: "listContainerStats" },
  { path: "/v1/runtime/container/checkpoint", rpc: "checkpointContainer" },
  { path: "/v1/runtime/container/events", rpc: "getContainerEvents", stream: true },
];
