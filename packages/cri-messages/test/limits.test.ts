/** The size, range and NUL rules of request fields (issue 14): InvalidArgument naming the field, shared by HTTP and gRPC. */
import { isCriError } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { decodeRequest, decodeResponse, MalformedWire, type WireFormat } from "../src/codec.js";
import type { RpcName } from "../src/rpcs.js";

function rejection(rpc: RpcName, wire: unknown, format: WireFormat = "json"): string {
  try {
    decodeRequest(rpc, wire, format);
  } catch (err) {
    if (isCriError(err) && err.code === "InvalidArgument") return err.message;
    throw err;
  }
  throw new Error("accepted");
}

const pod = (metadata: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
  config: { metadata: { name: "p", namespace: "default", uid: "u", ...metadata }, ...more },
});
const container = (config: Record<string, unknown>) => ({
  pod_sandbox_id: "p",
  config: { metadata: { name: "c" }, image: { image: "busybox" }, ...config },
});
const uuid = "0b0f8f4e-7c5a-11ee-b962-0242ac120002";

describe("names", () => {
  it("a 1 MB pod name or namespace is refused, naming the field and the size", () => {
    const huge = "a".repeat(1_000_000);
    expect(rejection("runPodSandbox", pod({ name: huge }))).toBe(
      "config.metadata.name: must be at most 253 characters (got 1000000)",
    );
    expect(rejection("runPodSandbox", pod({ namespace: huge }))).toBe(
      "config.metadata.namespace: must be at most 63 characters (got 1000000)",
    );
    expect(rejection("runPodSandbox", pod({ uid: huge }), "proto")).toBe(
      "config.metadata.uid: must be at most 253 characters (got 1000000)",
    );
    expect(rejection("createContainer", container({ metadata: { name: "c".repeat(254) } }))).toBe(
      "config.metadata.name: must be at most 253 characters (got 254)",
    );
  });

  it("what critest v1.26.1 and kubelet send passes", () => {
    const req = decodeRequest(
      "runPodSandbox",
      pod(
        {
          name: `PodSandbox-for-creating-pod-and-container-performance-test-${uuid}`,
          namespace: `cri-test-namespace${uuid}`,
          uid: `cri-test-uid${uuid}`,
          attempt: 4294967295,
        },
        {
          labels: { "io.kubernetes.pod.name": "p".repeat(253), "io.kubernetes.pod.namespace": "default" },
          annotations: { "kubernetes.io/config.seen": "2024-01-01T00:00:00Z", big: "x".repeat(256 * 1024) },
        },
      ),
      "json",
    );
    expect(req.config.metadata.namespace).toHaveLength(54);
    const c = decodeRequest(
      "createContainer",
      container({
        metadata: { name: `container-with-SupplementalGroups-and-predefined-group-image-test-${uuid}` },
      }),
      "proto",
    );
    expect(c.config.metadata.name).toHaveLength(102);
  });
});

describe("labels and annotations", () => {
  it("Kubernetes key sizes, label values, annotation totals", () => {
    const long = "k".repeat(64);
    expect(rejection("runPodSandbox", pod({}, { labels: { [long]: "v" } }))).toMatch(
      /^config\.labels\.k{64}: key name \(after an optional prefix and "\/"\) must be at most 63 characters$/,
    );
    // A huge key is named cut short: the error never grows with the input.
    expect(rejection("runPodSandbox", pod({}, { annotations: { ["k".repeat(1_000_000)]: "v" } }))).toMatch(
      /^config\.annotations\["k{64}…"\]: key name/,
    );
    expect(rejection("runPodSandbox", pod({}, { labels: { [`${"d".repeat(254)}/n`]: "v" } }))).toMatch(
      /key prefix \(before "\/"\) must be at most 253 characters$/,
    );
    expect(rejection("runPodSandbox", pod({}, { labels: { app: "v".repeat(254) } }))).toBe(
      "config.labels.app: value must be at most 253 characters",
    );
    expect(
      rejection(
        "createContainer",
        container({ annotations: { a: "x".repeat(300_000), b: "y".repeat(300_000) } }),
      ),
    ).toBe("config.annotations: must total at most 524288 bytes, keys and values (got 600002)");
    expect(rejection("listContainers", { filter: { label_selector: { [long]: "x" } } })).toMatch(
      /^filter\.label_selector\.k{64}: key name/,
    );
  });
});

describe("NUL bytes (argv, env, paths)", () => {
  it("are refused in names, commands, env, mounts and exec arguments, over both formats", () => {
    expect(rejection("runPodSandbox", pod({ name: "a\0b" }))).toBe(
      "config.metadata.name: must not contain a NUL byte",
    );
    expect(rejection("createContainer", container({ metadata: { name: "c\0" } }), "proto")).toBe(
      "config.metadata.name: must not contain a NUL byte",
    );
    expect(
      rejection(
        "createContainer",
        container({
          command: ["sh", "-c\0"],
          envs: [{ key: "A", value: "b\0" }],
          mounts: [{ container_path: "/m\0", host_path: "/h" }],
          labels: { "l\0": "v" },
        }),
      ),
    ).toBe(
      "config.command[1]: must not contain a NUL byte; config.envs[0].value: must not contain a NUL byte; " +
        "config.mounts[0].container_path: must not contain a NUL byte; " +
        'config.labels["l\\u0000"]: key must not contain a NUL byte',
    );
    expect(rejection("execSync", { container_id: "c", cmd: ["echo", "a\0b"] })).toBe(
      "cmd[1]: must not contain a NUL byte",
    );
  });

  it("annotation values may hold any string; responses decode as they come", () => {
    expect(
      decodeRequest("runPodSandbox", pod({}, { annotations: { a: "x\0y" } }), "json").config.annotations,
    ).toEqual({ a: "x\0y" });
    expect(decodeResponse("version", { version: "0.1.0", runtime_name: "a\0b" }, "json").runtimeName).toBe(
      "a\0b",
    );
  });
});

describe("argv and env sizes (no spawn E2BIG)", () => {
  it("a single argument past MAX_ARG_STRLEN, or a whole argv past 1 MiB", () => {
    expect(rejection("execSync", { container_id: "c", cmd: ["x".repeat(131_072)] })).toBe(
      "cmd[0]: must be shorter than 131072 bytes (MAX_ARG_STRLEN)",
    );
    expect(rejection("execSync", { container_id: "c", cmd: Array(20).fill("x".repeat(100_000)) })).toBe(
      "cmd: must total at most 1048576 bytes (got 2000020)",
    );
    expect(rejection("createContainer", container({ envs: [{ key: "A=B", value: "c" }] }))).toBe(
      'config.envs[0]: key must not contain "="',
    );
    expect(rejection("createContainer", container({ working_dir: `/${"d".repeat(5000)}` }))).toBe(
      "config.working_dir: must be shorter than 4096 bytes (PATH_MAX)",
    );
  });
});

describe("resources, checked before they reach runc", () => {
  const update = (linux: Record<string, unknown>) => ({ container_id: "c", linux });

  it.each([
    [{ cpu_shares: -1 }, "linux.cpu_shares: expected 0 or 2..262144 (got -1)"],
    [{ cpu_shares: 1 }, "linux.cpu_shares: expected 0 or 2..262144 (got 1)"],
    [{ cpu_shares: 262_145 }, "linux.cpu_shares: expected 0 or 2..262144 (got 262145)"],
    [{ cpu_period: 999 }, "linux.cpu_period: expected 0 or 1000..1000000 (µs) (got 999)"],
    [{ cpu_quota: -2 }, "linux.cpu_quota: expected -1, 0 or 1000..17592186044415 (µs) (got -2)"],
    [{ cpu_quota: 500 }, "linux.cpu_quota: expected -1, 0 or 1000..17592186044415 (µs) (got 500)"],
    [
      { memory_limit_in_bytes: 1 },
      "linux.memory_limit_in_bytes: expected -1, 0 or at least 12582912 bytes (got 1)",
    ],
    [
      { memory_limit_in_bytes: -5 },
      "linux.memory_limit_in_bytes: expected -1, 0 or at least 12582912 bytes (got -5)",
    ],
    [{ oom_score_adj: 1001 }, "linux.oom_score_adj: expected -1000..1000 (got 1001)"],
    [{ cpuset_cpus: "0-3;rm" }, 'linux.cpuset_cpus: expected a cpuset list such as "0-3,5"'],
    [
      { unified: { "../../cgroup.procs": "1" } },
      `linux.unified["../../cgroup.procs"]: key must be a cgroup file name (no "/", not "." or "..")`,
    ],
  ])("update %j is refused", (linux, message) => {
    expect(rejection("updateContainerResources", update(linux))).toBe(message);
  });

  it("what kubelet sends passes", () => {
    const req = decodeRequest(
      "updateContainerResources",
      update({
        cpu_shares: 2,
        cpu_period: 100_000,
        cpu_quota: 1000,
        memory_limit_in_bytes: 64 << 20,
        oom_score_adj: -997,
        cpuset_cpus: "0-1,3",
        unified: { "memory.high": "max" },
      }),
      "json",
    );
    expect(req.linux?.cpuShares).toBe(2);
    expect(
      decodeRequest("updateContainerResources", update({ memory_limit_in_bytes: -1, cpu_quota: -1 }), "proto")
        .linux,
    ).toEqual({
      memoryLimitInBytes: -1,
      cpuQuota: -1,
    });
  });
});

describe("resolv.conf entries", () => {
  it("a line break in a DNS search would inject directives", () => {
    expect(rejection("runPodSandbox", pod({}, { dns_config: { searches: ["a\nnameserver 6.6.6.6"] } }))).toBe(
      "config.dns_config.searches[0]: must not contain a line break",
    );
  });
});

describe("malformed wire bytes", () => {
  it("a MalformedWire from the transport is InvalidArgument naming the reason", () => {
    expect(
      rejection("version", new MalformedWire("malformed protobuf: index out of range: 3 + 127 > 4"), "proto"),
    ).toBe("request: malformed protobuf: index out of range: 3 + 127 > 4");
  });
});
