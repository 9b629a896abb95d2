/**
 * End to end on real parts: `servin cri start` with the oci backend (conmon + runc)
 * and the disk image store, pulling from a real registry (Debian's docker-registry
 * on 127.0.0.1) configured as a docker.io mirror — driven by the documented HTTP/JSON contract's curl bodies.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pushLayout, type TestRegistry } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningServin, removeDir, runCli, startServin } from "./_binary.js";
import { haveRealParts, startMirrorRegistry } from "./_real-parts.js";

const exec = promisify(execFile);

let registry: TestRegistry;
let servin: RunningServin;
let dir: string;

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${servin.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function runcList(): Promise<Array<{ id: string; status: string; pid: number }>> {
  const { stdout } = await exec("runc", [
    "--root",
    join(dir, "run", "runtime", "runc"),
    "list",
    "--format",
    "json",
  ]);
  return JSON.parse(stdout || "[]") ?? [];
}

async function countFiles(path: string): Promise<number> {
  if (!existsSync(path)) return 0;
  let n = 0;
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) if (entry.isFile()) n++;
  return n;
}

describe.skipIf(!haveRealParts())(
  "oci backend + disk images, end to end (root, runc, conmon, docker-registry)",
  () => {
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "servin-oci-e2e-"));
      const mirror = await startMirrorRegistry(dir);
      registry = mirror.registry;
      const { images, config } = mirror;
      await pushLayout(images.dir, images.base.tag, `${registry.directHost}/test/base:v1`);
      servin = await startServin(["--backend", "oci", "--image-backend", "disk"], { dir, config });
    }, 180_000);

    afterAll(async () => {
      if (servin) expect(await servin.stop("SIGTERM")).toBe(0);
      await registry?.stop();
      if (dir) await removeDir(dir);
    });

    it("pulls through the configured mirror, lists with containerd's tags and digests, runs `sleep 3600` for real, and frees everything on removal", async () => {
      expect(servin.output()).toContain("runtime backend: oci");
      const pulled = await post("/v1/image/pull", {
        image: { image: "alpine:latest" },
        auth: {},
        sandbox_config: {},
      });
      expect(pulled.status, JSON.stringify(pulled.body)).toBe(200);
      expect(registry.requestLog.some((r) => r.path.startsWith("/v2/library/alpine/manifests/latest"))).toBe(
        true,
      );

      const { body: list } = await post("/v1/image/list", { filter: {} });
      expect(list.images).toHaveLength(1);
      const image = list.images[0];
      expect(image.repo_tags).toEqual(["docker.io/library/alpine:latest"]);
      expect(image.repo_digests).toEqual([
        expect.stringMatching(/^docker\.io\/library\/alpine@sha256:[0-9a-f]{64}$/),
      ]);
      expect(image.size).toBeGreaterThan(500_000); // busybox-static, compressed
      expect(image.username).toBe("app");
      const blobsBefore = await countFiles(join(dir, "data", "images"));
      expect(blobsBefore).toBeGreaterThan(0);

      const pod = await post("/v1/runtime/sandbox/create", {
        config: {
          metadata: { name: "test-pod", namespace: "default" },
          hostname: "test-pod",
          log_directory: join(dir, "logs"),
        },
      });
      expect(pod.status, JSON.stringify(pod.body)).toBe(200);
      const podId = pod.body.pod_sandbox_id;

      const created = await post("/v1/runtime/container/create", {
        pod_sandbox_id: podId,
        config: {
          metadata: { name: "test-container" },
          image: { image: "alpine:latest" },
          command: ["/bin/sh"],
          args: ["-c", "sleep 3600"],
          log_path: "test-container/0.log",
        },
        sandbox_config: { metadata: { name: "test-pod", namespace: "default" } },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      const containerId = created.body.container_id;
      const started = await post("/v1/runtime/container/start", { container_id: containerId });
      expect(started.status, JSON.stringify(started.body)).toBe(200);

      // The process is real: runc (under servin's own --root) lists it running, and its pid runs `sleep 3600`.
      const running = (await runcList()).find((c) => c.id === containerId);
      expect(running?.status).toBe("running");
      const cmdline = (await readFile(`/proc/${running!.pid}/cmdline`, "utf8")).split("\0").join(" ");
      expect(cmdline).toContain("sleep 3600");

      const status = await post("/v1/runtime/container/status", { container_id: containerId });
      expect(status.body.status).toMatchObject({
        state: "CONTAINER_RUNNING",
        image_ref: expect.stringContaining("sha256:"),
        log_path: join(dir, "logs", "test-container/0.log"),
      });
      const execd = await post("/v1/runtime/container/exec-sync", {
        container_id: containerId,
        cmd: ["id", "-un"],
        timeout: 10,
      });
      expect(Buffer.from(execd.body.stdout ?? "", "base64").toString()).toBe("app\n");

      // The image is in use: it cannot be removed from under the container.
      const inUse = await post("/v1/image/remove", { image: { image: "alpine:latest" } });
      expect(inUse.status).toBe(409);

      expect(
        (await post("/v1/runtime/container/stop", { container_id: containerId, timeout: 2 })).status,
      ).toBe(200);
      const exited = await post("/v1/runtime/container/status", { container_id: containerId });
      expect(exited.body.status.state).toBe("CONTAINER_EXITED");
      expect((await post("/v1/runtime/sandbox/stop", { pod_sandbox_id: podId })).status).toBe(200);
      expect((await post("/v1/runtime/sandbox/remove", { pod_sandbox_id: podId })).status).toBe(200);

      // Nothing leaked: no runc containers, no conmon, no mounts of ours. The removal answered once its
      // tombstones were durable; the cleanups (runc delete, unmounts, files) finish in the background.
      await vi.waitFor(
        async () => {
          expect(await runcList()).toEqual([]);
          const { stdout: procs } = await exec("ps", ["-eo", "args"]);
          expect(procs).not.toContain(containerId);
          expect(await readFile("/proc/self/mountinfo", "utf8")).not.toContain(dir);
        },
        { timeout: 20_000, interval: 100 },
      );

      expect((await post("/v1/image/remove", { image: { image: "alpine:latest" } })).status).toBe(200);
      expect((await post("/v1/image/list", { filter: {} })).body.images).toEqual([]);
      expect(await countFiles(join(dir, "data", "images"))).toBeLessThan(blobsBefore);
    }, 180_000);

    it("the CLI pulls with per-layer progress, exports, removes and re-imports an image", async () => {
      const port = ["--port", String(servin.port)];
      const ref = `${registry.host}/test/base:v1`;
      const pull = await runCli(["pull", ref, ...port]);
      expect(pull.code, pull.stderr + pull.stdout).toBe(0);
      // Not a TTY: one plain line per blob status change, never a redrawn bar.
      expect(pull.stdout).toMatch(/layer\s+downloading/);
      expect(pull.stdout).toMatch(/layer\s+(done|unpacked)/);
      expect(pull.stdout).not.toContain("\x1b[");

      const images = await runCli(["images", ...port]);
      expect(images.stdout).toContain(`${registry.host}/test/base`);
      const inspect = await runCli(["image", "inspect", ref, ...port]);
      const status = JSON.parse(inspect.stdout);
      expect(status.image.repo_tags).toEqual([ref]);
      expect(status.info).toBeDefined();

      const archive = join(dir, "export.tar");
      // The tar comes back as the response body; the CLI writes it here (servin writes no client-chosen path).
      const exported = await runCli(["image", "export", ref, "-o", archive, ...port]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(existsSync(archive)).toBe(true);
      expect((await runCli(["rmi", ref, ...port])).code).toBe(0);
      expect((await runCli(["images", "--json", ...port])).stdout).not.toContain("test/base");

      // The old path-taking request is refused without reading the file, and nothing of it is quoted.
      const byPath = await fetch(`${servin.url}/v1/servin/image/import`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ path: "/etc/shadow" }),
      });
      expect(byPath.status).toBe(415);
      expect(await byPath.text()).not.toContain("root:");
      const imported = await runCli(["image", "import", archive, ...port]);
      expect(imported.code, imported.stderr + imported.stdout).toBe(0);
      expect(imported.stdout).toContain("imported");
      const after = JSON.parse((await runCli(["images", "--json", ...port])).stdout);
      expect(after.images.find((i: { id: string }) => i.id === status.image.id)).toBeDefined();
      expect((await runCli(["rmi", status.image.id.slice(7, 19), ...port])).code).toBe(0);
    }, 120_000);
  },
);
