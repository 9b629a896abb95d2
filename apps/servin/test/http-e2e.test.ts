/**
 * End to end over real HTTP: the built `servin` binary, started as `servin cri start`,
 * driven with the curl examples of the documented HTTP/JSON contract verbatim (only the port differs).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedPort, type RunningServin, removeDir, runCli, startServin } from "./_binary.js";

const exec = promisify(execFile);
let servin: RunningServin;

/** Runs one of the documented curl command lines (a shell string) against the test server's port. */
async function curl(commandLine: string): Promise<{ status: number; body: any }> {
  const line = commandLine.replaceAll("localhost:8080", `localhost:${servin.port}`);
  const { stdout } = await exec("sh", ["-c", `${line} -s -w '\\n%{http_code}'`]);
  const cut = stdout.lastIndexOf("\n");
  const text = stdout.slice(0, cut);
  return { status: Number(stdout.slice(cut + 1)), body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  servin = await startServin(["--backend", "memory", "--image-backend", "memory"]);
});
afterAll(async () => {
  const code = await servin.stop("SIGTERM");
  expect(code).toBe(0);
  await removeDir(servin.dir);
});

describe("the documented HTTP/JSON contract's curl examples against `servin cri start`", () => {
  it("health check", async () => {
    const res = await curl("curl http://localhost:8080/health");
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("ok");
  });

  it("runtime version", async () => {
    const res = await curl(`curl -X POST http://localhost:8080/v1/runtime/version \\
  -H "Content-Type: application/json" \\
  -d '{}'`);
    expect(res.status).toBe(200);
    expect(res.body.version).toMatchObject({ runtime_name: "servin", runtime_api_version: "v1" });
  });

  it("runtime status", async () => {
    const res = await curl(
      `curl -X POST http://localhost:8080/v1/runtime/status -H "Content-Type: application/json" -d '{}'`,
    );
    expect(res.status).toBe(200);
    const runtimeReady = res.body.status.conditions.find((c: { type: string }) => c.type === "RuntimeReady");
    expect(runtimeReady.status).toBe(true);
  });

  it("list images", async () => {
    const res = await curl(`curl -X POST http://localhost:8080/v1/image/list \\
  -H "Content-Type: application/json" \\
  -d '{"filter": {}}'`);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.images)).toBe(true);
  });

  it("pull, create pod, list pods, create container, list containers — the documented bodies", async () => {
    const post = (path: string, body: unknown) =>
      curl(
        `curl -X POST http://localhost:8080${path} -H "Content-Type: application/json" -d '${JSON.stringify(body)}'`,
      );

    const pulled = await post("/v1/image/pull", {
      image: { image: "alpine:latest" },
      auth: {},
      sandbox_config: {},
    });
    expect(pulled.status).toBe(200);
    expect(pulled.body.image_ref).toEqual(expect.any(String));

    const pod = await post("/v1/runtime/sandbox/create", {
      config: {
        metadata: { name: "test-pod", namespace: "default" },
        hostname: "test-pod",
        log_directory: "/var/log/pods",
      },
    });
    expect(pod.status).toBe(200);
    const podId = pod.body.pod_sandbox_id;
    expect(podId).toMatch(/^[0-9a-f]{64}$/);

    const pods = await post("/v1/runtime/sandbox/list", { filter: {} });
    expect(pods.body.items).toEqual([
      expect.objectContaining({
        id: podId,
        metadata: expect.objectContaining({ name: "test-pod", namespace: "default" }),
        state: "SANDBOX_READY",
      }),
    ]);

    const container = await post("/v1/runtime/container/create", {
      pod_sandbox_id: podId,
      config: {
        metadata: { name: "test-container" },
        image: { image: "alpine:latest" },
        command: ["/bin/sh"],
        args: ["-c", "sleep 3600"],
      },
      sandbox_config: { metadata: { name: "test-pod", namespace: "default" } },
    });
    expect(container.status).toBe(200);
    const containerId = container.body.container_id;
    expect((await post("/v1/runtime/container/start", { container_id: containerId })).status).toBe(200);

    const list = await post("/v1/runtime/container/list", { filter: {} });
    expect(list.body.containers).toEqual([
      expect.objectContaining({
        id: containerId,
        pod_sandbox_id: podId,
        metadata: expect.objectContaining({ name: "test-container" }),
        image: expect.objectContaining({ image: "alpine:latest" }),
        state: "CONTAINER_RUNNING",
        created_at: expect.stringMatching(/Z$/),
      }),
    ]);

    const images = await post("/v1/image/list", { filter: {} });
    expect(images.body.images).toEqual([
      expect.objectContaining({
        id: expect.stringMatching(/^sha256:/),
        repo_tags: ["docker.io/library/alpine:latest"],
        size: expect.any(Number),
      }),
    ]);

    expect((await post("/v1/runtime/sandbox/stop", { pod_sandbox_id: podId })).status).toBe(200);
    expect((await post("/v1/runtime/sandbox/remove", { pod_sandbox_id: podId })).status).toBe(200);
    expect((await post("/v1/runtime/container/list", { filter: {} })).body.containers).toEqual([]);
  });
});

describe("the servin CLI against the running server", () => {
  it("`servin cri status` reports version, conditions and counts", async () => {
    const res = await runCli(["cri", "status", "--port", String(servin.port)]);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toContain("servin 0.1.0");
    expect(res.stdout).toMatch(/RuntimeReady/);
    const json = await runCli(["cri", "status", "--port", String(servin.port), "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ runtime_name: "servin", pods: expect.any(Number) });
  });

  it("`servin cri test` passes every check", async () => {
    const res = await runCli(["cri", "test", "--port", String(servin.port)]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain("✓ run pod sandbox");
    expect(res.stdout).toContain("✓ stop and remove pod");
    expect(res.stdout).not.toContain("✗");
    // It cleaned up after itself.
    const pods = await runCli(["pods", "--port", String(servin.port), "--json"]);
    expect(
      JSON.parse(pods.stdout).items.filter((p: any) => p.metadata.name.startsWith("servin-cri-test")),
    ).toEqual([]);
  });

  it("user commands: pull, images, run, ps, exec, stop, rm, rmi", async () => {
    const port = ["--port", String(servin.port)];
    expect((await runCli(["pull", "busybox", ...port])).code).toBe(0);
    const images = await runCli(["images", ...port]);
    expect(images.stdout).toContain("docker.io/library/busybox");
    const run = await runCli(["run", ...port, "-d", "--name", "web", "busybox"]);
    expect(run.code, run.stderr).toBe(0);
    const ps = await runCli(["ps", ...port]);
    expect(ps.stdout).toContain("web");
    expect(ps.stdout).toContain("Running");
    const id = run.stdout.trim();
    const exec = await runCli(["exec", ...port, id.slice(0, 10), "echo", "hello"]);
    expect(exec.stdout).toBe("hello\n");
    expect((await runCli(["stop", id.slice(0, 10), ...port])).code).toBe(0);
    expect((await runCli(["rm", id.slice(0, 10), ...port])).code).toBe(0);
    const pods = await runCli(["pods", ...port, "--json"]);
    const pod = JSON.parse(pods.stdout).items.find((p: any) => p.metadata.name === "web").id;
    expect((await runCli(["rmp", pod, ...port])).code).toBe(0);
    expect((await runCli(["rmi", "busybox", ...port])).code).toBe(0);
    const gone = await runCli(["rmi", "busybox", ...port]);
    expect(gone.code).toBe(1);
    expect(gone.stderr + gone.stdout).toContain('image "busybox" not found');
  });
});

describe("failure modes", () => {
  it("`servin cri test` against a stopped server fails with a clear message", async () => {
    const res = await runCli(["cri", "test", "--port", String(await closedPort())]);
    expect(res.code).toBe(1);
    expect(res.stdout + res.stderr).toContain("cannot reach servin");
    expect(res.stdout).toContain("✗ health");
  });

  it("`servin cri status` against a stopped server exits 1 with a clear message", async () => {
    const port = await closedPort();
    const res = await runCli(["cri", "status", "--port", String(port)]);
    expect(res.code).toBe(1);
    expect(res.stdout + res.stderr).toContain(
      `cannot reach servin at http://127.0.0.1:${port}: connection refused`,
    );
  });

  it("a taken port is a one-line error", async () => {
    const second = await runCli([
      "cri",
      "start",
      "--port",
      String(servin.port),
      "--backend",
      "memory",
      "--image-backend",
      "memory",
      "--root",
      `${servin.dir}/other`,
      "--state-dir",
      `${servin.dir}/other-run`,
      "--no-grpc",
      "--config",
      `${servin.dir}/none.toml`,
    ]);
    expect(second.code).toBe(1);
    expect(second.stdout + second.stderr).toContain("address already in use");
  });

  it("bad flags are named", async () => {
    const res = await runCli(["cri", "start", "--backend", "bogus", "--config", `${servin.dir}/none.toml`]);
    expect(res.code).toBe(1);
    expect(res.stdout + res.stderr).toContain('expected "auto", "memory" or "oci", got "bogus"');
  });
});
