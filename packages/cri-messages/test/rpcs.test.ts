/** The RPC registry is the one list: every RPC of both cri-types services, each with its gRPC name, HTTP paths and kind. */
import type { ImageService, RuntimeService } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { IMAGE_RPC_NAMES, RPC_NAMES, RPCS, type RpcName, RUNTIME_RPC_NAMES } from "../src/index.js";

// Compile-time: RPCS is a mapped type over RpcName, so a method added to RuntimeService or ImageService
// and missing from RPCS fails the typecheck; these two lines fail it if RpcName ever loses one.
type Covers<All, Listed> = Exclude<All, Listed> extends never ? true : false;
const runtimeCovered: Covers<keyof RuntimeService, RpcName> = true;
const imageCovered: Covers<keyof ImageService, RpcName> = true;

// Every method of the cri-types interfaces, written out once here so that the test says what "every" is.
const RUNTIME: Record<keyof RuntimeService, true> = {
  version: true,
  status: true,
  runtimeConfig: true,
  updateRuntimeConfig: true,
  runPodSandbox: true,
  stopPodSandbox: true,
  removePodSandbox: true,
  podSandboxStatus: true,
  listPodSandbox: true,
  podSandboxStats: true,
  listPodSandboxStats: true,
  listPodSandboxMetrics: true,
  listMetricDescriptors: true,
  portForward: true,
  createContainer: true,
  startContainer: true,
  stopContainer: true,
  removeContainer: true,
  listContainers: true,
  containerStatus: true,
  updateContainerResources: true,
  reopenContainerLog: true,
  execSync: true,
  exec: true,
  attach: true,
  containerStats: true,
  listContainerStats: true,
  checkpointContainer: true,
  getContainerEvents: true,
};
const IMAGE: Record<keyof ImageService, true> = {
  listImages: true,
  imageStatus: true,
  pullImage: true,
  removeImage: true,
  imageFsInfo: true,
};

describe("RPCS", () => {
  it("covers every RPC of RuntimeService and ImageService, and nothing else", () => {
    expect(runtimeCovered && imageCovered).toBe(true);
    expect([...RUNTIME_RPC_NAMES].sort()).toEqual(Object.keys(RUNTIME).sort());
    expect([...IMAGE_RPC_NAMES].sort()).toEqual(Object.keys(IMAGE).sort());
    expect(RPC_NAMES).toEqual([...RUNTIME_RPC_NAMES, ...IMAGE_RPC_NAMES]);
  });

  it("gives each RPC its .proto method name, at least one POST path under its service, and a kind", () => {
    for (const rpc of RPC_NAMES) {
      const spec = RPCS[rpc];
      expect(spec.grpc, rpc).toBe(rpc.charAt(0).toUpperCase() + rpc.slice(1));
      expect(spec.http.length, rpc).toBeGreaterThan(0);
      for (const path of spec.http)
        expect(path, rpc).toMatch(
          spec.service === "image" ? /^\/v1\/image\/[a-z-]+$/ : /^\/v1\/runtime\/[a-z/-]+$/,
        );
      expect(spec.kind, rpc).toBe(rpc === "getContainerEvents" ? "server-stream" : "unary");
    }
  });

  it("names each HTTP path and each gRPC method once", () => {
    const paths = RPC_NAMES.flatMap((rpc) => RPCS[rpc].http);
    expect(new Set(paths).size).toBe(paths.length);
    const methods = RPC_NAMES.flatMap((rpc) => [
      RPCS[rpc].grpc,
      ...(RPCS[rpc].listStream ? [RPCS[rpc].listStream!.grpc] : []),
    ]);
    expect(new Set(methods).size).toBe(methods.length);
  });

  it("gives the Stream* variant to exactly the List RPCs that have one in the CRI", () => {
    const streamed = RPC_NAMES.filter((rpc) => RPCS[rpc].listStream).map((rpc) => RPCS[rpc].listStream!.grpc);
    expect(streamed.sort()).toEqual(
      [
        "StreamContainerStats",
        "StreamContainers",
        "StreamImages",
        "StreamPodSandboxMetrics",
        "StreamPodSandboxStats",
        "StreamPodSandboxes",
      ].sort(),
    );
  });
});
