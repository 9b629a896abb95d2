/** The HTTP route list is a public contract: deriving it from the RPC registry must not change it. */
import { describe, expect, it } from "vitest";
import { criRoutes } from "../src/index.js";

// The documented routes as they were written by hand before the registry (packages/cri-http/README.md).
const DOCUMENTED = [
  { path: "/v1/runtime/version", rpc: "version" },
  { path: "/v1/runtime/status", rpc: "status" },
  { path: "/v1/runtime/config", rpc: "runtimeConfig" },
  { path: "/v1/runtime/config/update", rpc: "updateRuntimeConfig" },
  { path: "/v1/runtime/metrics/descriptors", rpc: "listMetricDescriptors" },
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
  { path: "/v1/image/list", rpc: "listImages" },
  { path: "/v1/image/status", rpc: "imageStatus" },
  { path: "/v1/image/pull", rpc: "pullImage" },
  { path: "/v1/image/remove", rpc: "removeImage" },
  { path: "/v1/image/fsinfo", rpc: "imageFsInfo" },
];

const key = (r: { path: string; rpc: string; stream?: boolean }) =>
  `${r.path} ${r.rpc}${r.stream ? " stream" : ""}`;

describe("criRoutes", () => {
  it("is exactly the documented set of routes", () => {
    expect(new Set(criRoutes.map(key))).toEqual(new Set(DOCUMENTED.map(key)));
    expect(criRoutes).toHaveLength(DOCUMENTED.length);
  });
});
