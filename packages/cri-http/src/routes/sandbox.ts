/** Routes of the pod sandbox RPCs. `/sandbox/create` is the seed's name for RunPodSandbox; `/sandbox/run` its alias. */
import type { CriRoute } from "./_route.js";

export const sandboxRoutes: CriRoute[] = [
  { path: "/v1/runtime/sandbox/create", rpc: "runPodSandbox" },
  { path: "/v1/runtime/sandbox/run", rpc: "runPodSandbox" },
  { path: "/v1/runtime/sandbox/stop", rpc: "stopPodSandbox" },
  { path: "/v1/runtime/sandbox/remove", rpc: "removePodSandbox" },
  { path: "/v1/runtime/sandbox/status", rpc: "podSandboxStatus" },
  { path: "/v1/runtime/sandbox/list", rpc: "listPodSandbox" },
  { path: "/v1/runtime/sandbox/stats", rpc: "podSandboxStats" },
  { path: "/v1/runtime/sandbox/list-stats", rpc: "listPodSandboxStats" },
  { path: "/v1/runtime/sandbox/metrics", rpc: "listPodSandboxMetrics" },
  { path: "/v1/runtime/sandbox/port-forward", rpc: "portForward" },
];
