/**
 * /metrics on real parts (issue 11): after a pull over gRPC from a real registry, the pull counter,
 * the bytes fetched (exactly the manifest, config and layer sizes the registry serves) and the
 * store gauges; after a container exits with code 3, the exit counter; after one is OOM-killed
 * under a memory limit, the OOM counter.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCriGrpcClient } from "@servin/cri-grpc";
import type { TestRegistry } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServin, removeDir, startServin } from "./_binary.js";
import { haveRealParts, removeServinLeftovers, startMirrorRegistry } from "./_real-parts.js";

let registry: TestRegistry;
let servin: RunningServin;
let dir: string;

/** The value of one series (`name{labels}` exactly as Prometheus prints it), undefined when absent. */
async function metric(series: string): Promise<number | undefined> {
  const text = await (await fetch(`${servin.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Polls (bounded) until `series` reaches `want`; answers what it last saw. */
async function metricReaches(series: string, want: number): Promise<number | undefined> {
  let seen: number | undefined;
  for (let i = 0; i < 200; i++) {
    seen = await metric(series);
    if (seen === want) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

/** What a pull of `repo:tag` fetches from the registry: its manifest(s), config and layers, in bytes. */
async function registryBytes(
  host: string,
  repo: string,
  tag: string,
): Promise<{ bytes: number; layers: number }> {
  const accept = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
  ].join(", ");
  const get = async (ref: string) => {
    const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { headers: { accept } });
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };
  let body = await get(tag);
  let bytes = body.length;
  let doc = JSON.parse(body.toString());
  if (Array.isArray(doc.manifests)) {
    const arch = process.arch === "x64" ? "amd64" : process.arch;
    const pick = doc.manifests.find(
      (m: { platform?: { architecture?: string } }) => m.platform?.architecture === arch,
    );
    body = await get(pick.digest);
    bytes += body.length;
    doc = JSON.parse(body.toString());
  }
  bytes += doc.config.size;
  for (const layer of doc.layers) bytes += layer.size;
  return { bytes, layers: doc.layers.length };
}

// biome-ignore lint/suspicious/noExplicitAny: the API's JSON answers, read field by field
async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${servin.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe.skipIf(!haveRealParts())(
  "servin cri start /metrics on real parts (root, runc, conmon, registry)",
  () => {
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "servin-metrics-oci-"));
      const mirror = await startMirrorRegistry(dir);
      registry = mirror.registry;
      servin = await startServin(["--backend", "oci", "--image-backend", "disk"], {
        dir,
        config: mirror.config,
      });
    }, 180_000);

    afterAll(async () => {
      if (servin) expect(await servin.stop("SIGTERM")).toBe(0);
      await registry?.stop();
      if (dir) {
        await removeServinLeftovers(dir, join(dir, "run"), "servin");
        await removeDir(dir);
      }
    });

    it("counts a gRPC pull, the bytes it fetched and the stores' sizes", async () => {
      const expected = await registryBytes(registry.directHost, "library/alpine", "latest");
      const cri = createCriGrpcClient(`unix://${servin.socket}`, { timeoutMs: 120_000 });
      try {
        await cri.pullImage({ image: { image: "alpine:latest" } });
      } finally {
        cri.close();
      }
      expect(await metric('servin_image_pulls_total{result="OK"}')).toBe(1);
      expect(await metric("servin_image_pull_bytes_total")).toBe(expected.bytes);
      expect(await metric('servin_image_pull_duration_seconds_count{result="OK"}')).toBe(1);
      expect(await metric('servin_cri_requests_total{transport="grpc",rpc="pullImage",status="OK"}')).toBe(1);
      expect(await metric("servin_images")).toBe(1);
      expect(await metric("servin_image_snapshots")).toBe(expected.layers);
      expect(await metric("servin_image_store_bytes")).toBeGreaterThan(expected.bytes);

      // A second pull of the same image fetches only its manifest: nothing else is downloaded again.
      const before = (await metric("servin_image_pull_bytes_total"))!;
      expect((await post("/v1/image/pull", { image: { image: "alpine:latest" } })).status).toBe(200);
      expect(await metric('servin_image_pulls_total{result="OK"}')).toBe(2);
      expect((await metric("servin_image_pull_bytes_total"))! - before).toBeLessThan(expected.bytes / 10);
      // A pull that fails is counted by its CRI code.
      expect((await post("/v1/image/pull", { image: { image: "nosuch/image:1" } })).status).toBe(404);
      expect(await metric('servin_image_pulls_total{result="NotFound"}')).toBe(1);
    }, 180_000);

    it("counts a container's exit by reason and exit code class, and an OOM kill", async () => {
      const sandboxConfig = {
        metadata: { name: "metrics-pod", namespace: "default", uid: "metrics-pod-uid" },
        log_directory: join(dir, "logs"),
        linux: { cgroup_parent: "" },
      };
      const pod = await post("/v1/runtime/sandbox/create", { config: sandboxConfig });
      expect(pod.status, JSON.stringify(pod.body)).toBe(200);
      const podId = pod.body.pod_sandbox_id;
      const run = async (name: string, script: string, resources: object = {}) => {
        const created = await post("/v1/runtime/container/create", {
          pod_sandbox_id: podId,
          config: {
            metadata: { name },
            image: { image: "alpine:latest" },
            command: ["/bin/sh", "-c", script],
            log_path: `${name}.log`,
            linux: { resources },
          },
          sandbox_config: sandboxConfig,
        });
        expect(created.status, JSON.stringify(created.body)).toBe(200);
        const id = created.body.container_id;
        expect((await post("/v1/runtime/container/start", { container_id: id })).status).toBe(200);
        return id;
      };

      await run("exits-3", "exit 3");
      expect(await metricReaches('servin_container_exits_total{reason="Error",exit_code="1-125"}', 1)).toBe(
        1,
      );
      await run("exits-0", "true");
      expect(await metricReaches('servin_container_exits_total{reason="Completed",exit_code="0"}', 1)).toBe(
        1,
      );

      // 32 MiB and no swap; `tail` keeps the whole newline-free "line" of /dev/zero in memory.
      const oom = await run("oom", "tail /dev/zero", {
        memory_limit_in_bytes: 32 * 1024 * 1024,
        memory_swap_limit_in_bytes: 32 * 1024 * 1024,
      });
      expect(await metricReaches("servin_container_oom_kills_total", 1)).toBe(1);
      const status = await post("/v1/runtime/container/status", { container_id: oom });
      expect(status.body.status).toMatchObject({ state: "CONTAINER_EXITED", reason: "OOMKilled" });
      expect(await metric('servin_container_exits_total{reason="OOMKilled",exit_code="signal"}')).toBe(1);

      expect((await post("/v1/runtime/sandbox/stop", { pod_sandbox_id: podId })).status).toBe(200);
      expect((await post("/v1/runtime/sandbox/remove", { pod_sandbox_id: podId })).status).toBe(200);
    }, 180_000);
  },
);
