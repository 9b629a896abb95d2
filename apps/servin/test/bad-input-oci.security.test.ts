/**
 * Issue 14 #6 on the real parts: the inputs that answered 500 with runc's or
 * spawn()'s words (a NUL byte in a pod or container name or in an exec-sync
 * argument, `container/update` with cpu_shares -1 or an out-of-range memory
 * limit, an oversized name giving `spawn E2BIG`) now answer 400 naming the
 * field, over HTTP and gRPC, against `servin cri start` with the oci backend
 * (conmon + runc) and a running container; and the container still serves.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { criServiceDefinitions } from "@servin/cri-grpc";
import { buildTestImages, pushLayout, startRegistry, type TestRegistry } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcFrame, grpcRaw, postRaw, type SourceServin, startSourceServin } from "./_hostile-clients.js";
import { haveRealParts, mirrorToml } from "./_real-parts.js";

const GRPC_INVALID_ARGUMENT = 3;

let registry: TestRegistry;
let layoutDir = "";
let servin: SourceServin;
let podId = "";
let containerId = "";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, read field by field in the assertions
async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const answer = await postRaw(servin.url, path, JSON.stringify(body), { timeoutMs: 60_000 });
  return { status: answer.status, body: answer.body ? JSON.parse(answer.body) : undefined };
}

describe.skipIf(!haveRealParts())("bad input against real containers (root, runc, conmon, registry)", () => {
  beforeAll(async () => {
    registry = await startRegistry();
    layoutDir = await mkdtemp(join(tmpdir(), "servin-bad-input-"));
    const images = await buildTestImages(join(layoutDir, "layout"));
    await pushLayout(images.dir, images.layers.tag, `${registry.directHost}/library/alpine:latest`);
    servin = await startSourceServin({
      backend: "oci",
      imageBackend: "disk",
      config: mirrorToml(registry),
    });
    expect((await post("/v1/image/pull", { image: { image: "alpine:latest" } })).status).toBe(200);
    const pod = await post("/v1/runtime/sandbox/run", {
      config: {
        metadata: { name: "bad-input", namespace: "default", uid: "bad-input-uid" },
        log_directory: join(servin.dir, "logs"),
      },
    });
    expect(pod.status, JSON.stringify(pod.body)).toBe(200);
    podId = pod.body.pod_sandbox_id;
    const created = await post("/v1/runtime/container/create", {
      pod_sandbox_id: podId,
      config: {
        metadata: { name: "sleeper" },
        image: { image: "alpine:latest" },
        command: ["/bin/sh"],
        args: ["-c", "sleep 3600"],
        log_path: "sleeper.log",
      },
      sandbox_config: { metadata: { name: "bad-input", namespace: "default" } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    containerId = created.body.container_id;
    expect((await post("/v1/runtime/container/start", { container_id: containerId })).status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    if (servin && containerId) {
      await post("/v1/runtime/container/stop", { container_id: containerId, timeout: 0 });
      await post("/v1/runtime/container/remove", { container_id: containerId });
    }
    if (servin && podId) {
      await post("/v1/runtime/sandbox/stop", { pod_sandbox_id: podId });
      await post("/v1/runtime/sandbox/remove", { pod_sandbox_id: podId });
    }
    await servin?.stop();
    await registry?.stop();
    if (layoutDir) await rm(layoutDir, { recursive: true, force: true });
  }, 120_000);

  const cases: Array<[string, string, () => unknown, string]> = [
    [
      "a NUL byte in a pod name",
      "/v1/runtime/sandbox/run",
      () => ({ config: { metadata: { name: "a\u0000b", namespace: "default", uid: "u" } } }),
      "config.metadata.name: must not contain a NUL byte",
    ],
    [
      "a 300 KB pod name (spawn E2BIG)",
      "/v1/runtime/sandbox/run",
      () => ({ config: { metadata: { name: "n".repeat(300_000), namespace: "default", uid: "u" } } }),
      "config.metadata.name: must be at most 253 characters (got 300000)",
    ],
    [
      "a NUL byte in a container name",
      "/v1/runtime/container/create",
      () => ({
        pod_sandbox_id: podId,
        config: { metadata: { name: "c\u0000" }, image: { image: "alpine:latest" } },
      }),
      "config.metadata.name: must not contain a NUL byte",
    ],
    [
      "a NUL byte in an exec-sync argument",
      "/v1/runtime/container/exec-sync",
      () => ({ container_id: containerId, cmd: ["echo", "a\u0000b"], timeout: 10 }),
      "cmd[1]: must not contain a NUL byte",
    ],
    [
      "cpu_shares -1",
      "/v1/runtime/container/update",
      () => ({ container_id: containerId, linux: { cpu_shares: -1 } }),
      "linux.cpu_shares: expected 0 or 2..262144 (got -1)",
    ],
    [
      "a 1-byte memory limit",
      "/v1/runtime/container/update",
      () => ({ container_id: containerId, linux: { memory_limit_in_bytes: 1 } }),
      "linux.memory_limit_in_bytes: expected -1, 0 or at least 12582912 bytes (got 1)",
    ],
    [
      "a negative memory limit",
      "/v1/runtime/container/update",
      () => ({ container_id: containerId, linux: { memory_limit_in_bytes: -4096 } }),
      "linux.memory_limit_in_bytes: expected -1, 0 or at least 12582912 bytes (got -4096)",
    ],
  ];

  it.each(cases)("HTTP: %s answers 400 naming the field", async (_what, path, body, message) => {
    const answer = await post(path, body());
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: "InvalidArgument", message });
  });

  it("gRPC: the same inputs answer INVALID_ARGUMENT naming the field", async () => {
    const { RuntimeService } = criServiceDefinitions("v1");
    const call = (method: string, request: unknown) =>
      grpcRaw(
        servin.socket,
        RuntimeService[method]!.path,
        grpcFrame(RuntimeService[method]!.requestSerialize(request)),
        { timeoutMs: 60_000 },
      );
    const answers = [
      await call("ExecSync", { containerId, cmd: ["echo", "a\u0000b"], timeout: "10" }),
      await call("UpdateContainerResources", { containerId, linux: { cpuShares: "-1" } }),
      await call("RunPodSandbox", { config: { metadata: { name: "a\u0000b", namespace: "default" } } }),
    ];
    expect(answers.map((a) => [a.code, a.message])).toEqual([
      [GRPC_INVALID_ARGUMENT, "cmd[1]: must not contain a NUL byte"],
      // gRPC names fields in proto-loader spelling, the keys the client wrote.
      [GRPC_INVALID_ARGUMENT, "linux.cpuShares: expected 0 or 2..262144 (got -1)"],
      [GRPC_INVALID_ARGUMENT, "config.metadata.name: must not contain a NUL byte"],
    ]);
  });

  it("the container still runs and takes valid updates and execs", async () => {
    const exec = await post("/v1/runtime/container/exec-sync", {
      container_id: containerId,
      cmd: ["echo", "still here"],
      timeout: 10,
    });
    expect(exec.status, JSON.stringify(exec.body)).toBe(200);
    expect(Buffer.from(exec.body.stdout, "base64").toString()).toBe("still here\n");
    const update = await post("/v1/runtime/container/update", {
      container_id: containerId,
      linux: { cpu_shares: 512, memory_limit_in_bytes: 64 * 1024 * 1024 },
    });
    expect(update.status, JSON.stringify(update.body)).toBe(200);
  });
});
