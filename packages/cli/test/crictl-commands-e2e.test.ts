/**
 * crictl's workflow with the built `servin` binary against `servin cri start` on real parts (oci
 * backend: runc + conmon, an image from a local registry through the mirror config): `runp` from a
 * pod config (JSON), `create` from a container config (YAML) and the pod config, `start`, `stats`,
 * `statsp`, `info`, `update` (read back from the container's own cgroup) and `events` streamed while
 * it happens; bad files are refused naming the file and the field.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { type CriClient, createCriClient } from "@servin/cri-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as yamlStringify } from "yaml";
import {
  BINARY,
  type RunningServin,
  removeDir,
  runCli,
  startServin,
} from "../../../apps/servin/test/_binary.js";
import { haveRealParts, startMirrorRegistry } from "../../../apps/servin/test/_real-parts.js";
import { pushLayout, startRegistry } from "../../../tooling/testkit/src/index.js";

const real = haveRealParts();
if (process.env.SERVIN_REQUIRE_REAL === "1" && !real)
  throw new Error("SERVIN_REQUIRE_REAL=1 but this is not root with runc, conmon and the registry tools");

type TestRegistry = Awaited<ReturnType<typeof startMirrorRegistry>>["registry"];

const execFileP = promisify(execFile);
/** The conformance kit's crictl 1.26.1, the reference for names, flags and output. */
const CRICTL = resolve(import.meta.dirname, "../../../../shared/conformance/bin/crictl");
const USER = { username: "crictl-user", password: "s3cret pass" };
const HEX64 = /^[0-9a-f]{64}$/;

/** `servin ARGS…` with `input` piped to its stdin. */
function runWithInput(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BINARY, ...args], { env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end(input);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe.skipIf(!real)("crictl-style commands on the oci backend", () => {
  let dir: string;
  let registry: TestRegistry;
  let secure: TestRegistry;
  let servin: RunningServin;
  let cri: CriClient;
  let port: string[];
  let events: ChildProcess;
  let eventsOut = "";
  let eventsErr = "";
  let pod = "";
  let container = "";
  const file = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-crictl-e2e-"));
    // a second registry that wants a password, for create --with-pull's --creds, --auth and --username
    secure = await startRegistry({ htpasswd: USER });
    const mirror = await startMirrorRegistry(dir, {
      toml: `[registries."${secure.host}"]\ninsecure = true\n`,
    });
    registry = mirror.registry;
    await pushLayout(mirror.images.dir, mirror.images.layers.tag, `${secure.directHost}/secure/alpine:v1`, {
      creds: USER,
    });
    servin = await startServin(["--backend", "oci", "--image-backend", "disk"], {
      dir,
      config: mirror.config,
    });
    port = ["--port", String(servin.port)];
    cri = createCriClient({ baseUrl: servin.url });
    events = spawn(process.execPath, [BINARY, "events", ...port], { env: { ...process.env, NO_COLOR: "1" } });
    events.stdout!.on("data", (d) => (eventsOut += d));
    events.stderr!.on("data", (d) => (eventsErr += d));
    // crictl's own example files: snake_case JSON for the pod, YAML for the container
    await writeFile(
      file("pod.json"),
      JSON.stringify({
        metadata: { name: "crictl-pod", namespace: "default", uid: "crictl-pod-uid", attempt: 1 },
        log_directory: join(dir, "logs"),
        labels: { app: "crictl-e2e" },
        linux: {},
      }),
    );
    await writeFile(
      file("container.yaml"),
      [
        "metadata:",
        "  name: sleeper",
        "image:",
        "  image: alpine:latest",
        "command: [sleep, '3600']",
        "log_path: sleeper.log",
        "labels:",
        "  role: sleeper",
        "linux: {}",
        "",
      ].join("\n"),
    );
  }, 180_000);

  afterAll(async () => {
    if (pod) await runCli(["rmp", pod, ...port]);
    if (servin) expect(await servin.stop("SIGTERM")).toBe(0);
    await registry?.stop();
    await secure?.stop();
    if (dir) await removeDir(dir);
  }, 120_000);

  it("runp prints the pod ID; create --with-pull prints the container ID; start prints it back", async () => {
    const runp = await runCli(["runp", file("pod.json"), ...port]);
    expect(runp.code, runp.stderr).toBe(0);
    pod = runp.stdout.trim();
    expect(pod).toMatch(HEX64);
    const status = await cri.podSandboxStatus({ podSandboxId: pod });
    expect(status.status.metadata).toMatchObject({ name: "crictl-pod", uid: "crictl-pod-uid", attempt: 1 });
    expect(status.status.state).toBe("SANDBOX_READY");

    const create = await runCli([
      "create",
      pod.slice(0, 12),
      file("container.yaml"),
      file("pod.json"),
      "--with-pull",
      ...port,
    ]);
    expect(create.code, create.stderr).toBe(0);
    container = create.stdout.trim();
    expect(container).toMatch(HEX64);
    expect((await cri.containerStatus({ containerId: container })).status.state).toBe("CONTAINER_CREATED");

    const start = await runCli(["start", container, ...port]);
    expect(start, start.stderr).toMatchObject({ code: 0, stdout: `${container}\n` });
    const { status: running } = await cri.containerStatus({ containerId: container });
    expect(running.state).toBe("CONTAINER_RUNNING");
    expect(running.labels).toMatchObject({ role: "sleeper" });
    expect(running.logPath).toBe(join(dir, "logs", "sleeper.log"));
  }, 120_000);

  it("create --with-pull authenticates with --creds, --auth or --username (password on stdin)", async () => {
    const image = `${secure.host}/secure/alpine:v1`;
    const containerFile = async (name: string) => {
      await writeFile(file(`${name}.json`), JSON.stringify({ metadata: { name }, image: { image } }));
      return file(`${name}.json`);
    };
    const created = async (name: string, flags: string[], input = "") => {
      const r = await runWithInput(
        ["create", pod, await containerFile(name), file("pod.json"), ...flags, ...port],
        input,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toMatch(HEX64);
      await runCli(["rm", r.stdout.trim(), ...port]);
      await runCli(["rmi", image, ...port]);
    };
    const anonymous = await runCli([
      "create",
      pod,
      await containerFile("anon"),
      file("pod.json"),
      "--with-pull",
      ...port,
    ]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain(secure.host);
    await created("creds", ["--with-pull", "--creds", `${USER.username}:${USER.password}`]);
    const b64 = Buffer.from(`${USER.username}:${USER.password}`).toString("base64");
    await created("auth", ["--with-pull", "--auth", b64]);
    await created("username", ["--with-pull", "--username", USER.username], `${USER.password}\n`);
    const wrong = await runWithInput(
      [
        "create",
        pod,
        await containerFile("wrong"),
        file("pod.json"),
        "--with-pull",
        "--username",
        USER.username,
        ...port,
      ],
      "not the password\n",
    );
    expect(wrong.code).toBe(1);
    const both = await runCli([
      "create",
      pod,
      await containerFile("both"),
      file("pod.json"),
      "--creds",
      "a:b",
      "--auth",
      "x",
      "--with-pull",
      ...port,
    ]);
    expect(both.stderr).toContain("--creds and --auth: use only one");
    const contradiction = await runCli([
      "create",
      pod,
      await containerFile("nopull"),
      file("pod.json"),
      "--with-pull",
      "--no-pull",
      ...port,
    ]);
    expect(contradiction.code).toBe(1);
    expect(contradiction.stderr).toContain("--with-pull and --no-pull: choose one");
  }, 120_000);

  it("events streamed the container's creation and start as they happened", async () => {
    const seen = () => eventsOut.includes(container) && eventsOut.includes("CONTAINER_STARTED_EVENT");
    for (let i = 0; i < 100 && !seen(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(eventsErr).toBe("");
    const records = eventsOut
      .split(/\n(?=\{)/)
      .map((r) => JSON.parse(r) as { container_id: string; container_event_type: string });
    const mine = records.filter((r) => r.container_id === container).map((r) => r.container_event_type);
    expect(mine).toEqual(["CONTAINER_CREATED_EVENT", "CONTAINER_STARTED_EVENT"]);
  });

  it("stats: -o json is the API's answer; the table has crictl's columns and the running container", async () => {
    const json = await runCli(["stats", "-o", "json", container.slice(0, 12), ...port]);
    expect(json.code, json.stderr).toBe(0);
    const { stats } = JSON.parse(json.stdout) as {
      stats: { attributes: { id: string }; memory: { working_set_bytes: { value: string } } }[];
    };
    expect(stats.map((s) => s.attributes.id)).toEqual([container]);
    expect(Number(stats[0]!.memory.working_set_bytes.value)).toBeGreaterThan(0);

    const table = await runCli(["stats", "--seconds", "0.2", ...port]);
    expect(table.code, table.stderr).toBe(0);
    const [header, ...rows] = table.stdout.trim().split("\n");
    expect(header!.split(/\s{2,}/)).toEqual(["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"]);
    const row = rows.find((r) => r.startsWith(container.slice(0, 13)));
    expect(row, table.stdout).toBeDefined();
    expect(row!.split(/\s+/)).toEqual([
      container.slice(0, 13),
      "sleeper",
      expect.stringMatching(/^\d+\.\d\d$/),
      expect.stringMatching(/^[\d.]+(B|kB|MB|GB)$/),
      expect.stringMatching(/^[\d.]+(B|kB|MB|GB)$/),
      expect.stringMatching(/^\d+$/),
    ]);
    const yaml = await runCli(["stats", "-o", "yaml", "--pod", pod, ...port]);
    expect(yaml.code, yaml.stderr).toBe(0);
    expect(yaml.stdout).toContain(`id: ${container}`);
  }, 60_000);

  it.skipIf(!existsSync(CRICTL))(
    "stats and statsp print the headers crictl 1.26 prints for the same server",
    async () => {
      for (const cmd of ["stats", "statsp"]) {
        const answer = await execFileP(CRICTL, ["--runtime-endpoint", `unix://${servin.socket}`, cmd]);
        // crictl 1.26 clears the screen before every table, even into a pipe; servin only with --watch on a terminal
        const theirs = { stdout: answer.stdout.replace("\x1b[2J\x1b[H", "") };
        const ours = await runCli([cmd, "-s", "0.2", ...port]);
        const header = (text: string) =>
          text
            .split("\n")[0]!
            .trim()
            .split(/\s{2,}/);
        expect(header(ours.stdout)).toEqual(header(theirs.stdout));
        // the same rows (IDs and names) as crictl's
        const firstCells = (text: string) =>
          text
            .trim()
            .split("\n")
            .slice(1)
            .map((r) => r.split(/\s+/).slice(0, 2).join(" "))
            .sort();
        expect(firstCells(ours.stdout)).toEqual(firstCells(theirs.stdout));
      }
    },
    60_000,
  );

  it.skipIf(!existsSync(CRICTL))(
    "info holds what crictl 1.26's info prints for the same server",
    async () => {
      const theirs = JSON.parse(
        (await execFileP(CRICTL, ["--runtime-endpoint", `unix://${servin.socket}`, "info"])).stdout,
      ) as Record<string, unknown>;
      const ours = JSON.parse((await runCli(["info", ...port])).stdout) as Record<string, unknown>;
      expect(Object.keys(theirs).length).toBeGreaterThan(1);
      for (const [key, value] of Object.entries(theirs)) expect(ours[key], key).toEqual(value);
    },
  );

  it.skipIf(!existsSync(CRICTL))(
    "a pod file crictl 1.26 runs gives the same pod when servin runs it (JSON and YAML)",
    async () => {
      const config = (name: string) => ({
        metadata: { name, namespace: "files", uid: `${name}-uid`, attempt: 2 },
        hostname: "same-host",
        log_directory: join(dir, "logs", name),
        labels: { tier: "web", "example.com/team": "a" },
        annotations: { note: "from a file" },
        dns_config: { servers: ["10.0.0.53"], searches: ["example.com"], options: ["ndots:2"] },
        linux: { security_context: { namespace_options: { network: 2 } } },
      });
      const strip = (status: Record<string, unknown>) => {
        const { id: _id, metadata, created_at: _created, ...rest } = status;
        return { ...rest, attempt: (metadata as { attempt?: number }).attempt };
      };
      for (const ext of ["json", "yaml"] as const) {
        const text = (name: string) =>
          ext === "json" ? JSON.stringify(config(name)) : (yamlStringify(config(name)) as string);
        await writeFile(file(`crictl.${ext}`), text(`by-crictl-${ext}`));
        await writeFile(file(`servin.${ext}`), text(`by-servin-${ext}`));
        const theirs = (
          await execFileP(CRICTL, [
            "--runtime-endpoint",
            `unix://${servin.socket}`,
            "runp",
            file(`crictl.${ext}`),
          ])
        ).stdout.trim();
        const ours = await runCli(["runp", file(`servin.${ext}`), ...port]);
        expect(ours.code, ours.stderr).toBe(0);
        try {
          const inspect = async (id: string) => {
            const r = await runCli(["inspectp", id, ...port]);
            expect(r.code, `inspectp ${id}: ${r.stderr}`).toBe(0);
            return strip((JSON.parse(r.stdout) as { status: Record<string, unknown> }).status);
          };
          const mine = await inspect(ours.stdout.trim());
          expect(mine).toMatchObject({
            labels: config("x").labels,
            annotations: config("x").annotations,
            attempt: 2,
          });
          expect(mine).toEqual(await inspect(theirs));
        } finally {
          await runCli(["rmp", theirs, ours.stdout.trim(), ...port]);
        }
      }
    },
    120_000,
  );

  it.skipIf(!existsSync(CRICTL))(
    "a container file crictl 1.26 creates gives the same container when servin creates it",
    async () => {
      const config = (name: string) => ({
        metadata: { name },
        image: { image: "alpine:latest" },
        command: ["sh", "-c"],
        args: ["sleep 60"],
        working_dir: "/tmp",
        envs: [{ key: "GREETING", value: "hello" }],
        labels: { kind: "compare" },
        annotations: { "example.com/why": "parity" },
        log_path: `${name}.log`,
        linux: { resources: { cpu_shares: 256, memory_limit_in_bytes: 33554432 } },
      });
      await writeFile(file("c-crictl.json"), JSON.stringify(config("by-crictl")));
      await writeFile(file("c-servin.yaml"), yamlStringify(config("by-servin")) as string);
      const theirs = (
        await execFileP(CRICTL, [
          "--runtime-endpoint",
          `unix://${servin.socket}`,
          "create",
          pod,
          file("c-crictl.json"),
          file("pod.json"),
        ])
      ).stdout.trim();
      const ours = await runCli(["create", pod, file("c-servin.yaml"), file("pod.json"), ...port]);
      expect(ours.code, ours.stderr).toBe(0);
      try {
        const inspect = async (id: string) => {
          const r = await runCli(["inspect", id, ...port]);
          expect(r.code, `inspect ${id}: ${r.stderr}`).toBe(0);
          const {
            id: _id,
            metadata: _m,
            created_at: _c,
            log_path,
            ...rest
          } = (JSON.parse(r.stdout) as { status: Record<string, unknown> }).status;
          return { ...rest, log_dir: dirname(String(log_path)) };
        };
        const mine = await inspect(ours.stdout.trim());
        expect(mine).toMatchObject({
          labels: { kind: "compare" },
          annotations: { "example.com/why": "parity" },
        });
        expect(mine).toEqual(await inspect(theirs));
      } finally {
        await runCli(["rm", theirs, ours.stdout.trim(), ...port]);
      }
    },
    60_000,
  );

  it("stats --watch prints a table every sample until Ctrl-C (exit 0)", async () => {
    const child = spawn(process.execPath, [BINARY, "stats", "--watch", "-s", "0.2", ...port], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    const closed = new Promise<number | null>((done) => child.on("close", done));
    const tables = () => out.split("CONTAINER").length - 1;
    for (let i = 0; i < 200 && tables() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(tables(), err).toBeGreaterThanOrEqual(2);
    expect(out).toContain(container.slice(0, 13));
    expect(out).not.toContain("\x1b[2J"); // the screen is cleared only on a terminal
    child.kill("SIGINT");
    expect(await closed).toBe(0);
  }, 30_000);

  it("statsp: the pod in a table (POD, POD ID, CPU %, MEM) and as YAML", async () => {
    const table = await runCli(["statsp", "-s", "0.2", ...port]);
    expect(table.code, table.stderr).toBe(0);
    const [header, ...rows] = table.stdout.trim().split("\n");
    expect(header!.split(/\s{2,}/)).toEqual(["POD", "POD ID", "CPU %", "MEM"]);
    expect(
      rows.some((r) => r.startsWith("crictl-pod") && r.includes(pod.slice(0, 13))),
      table.stdout,
    ).toBe(true);
    const yaml = await runCli(["statsp", "-o", "yaml", "--label", "app=crictl-e2e", ...port]);
    expect(yaml.code, yaml.stderr).toBe(0);
    expect(yaml.stdout).toContain(`id: ${pod}`);
    const none = await runCli(["statsp", "-o", "json", "--label", "app=nothing", ...port]);
    expect(none.code, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout)).toEqual({ stats: [] });
    // a repeated --label: every pair must match
    const both = await runCli([
      "statsp",
      "-o",
      "json",
      "--label",
      "app=crictl-e2e",
      "--label=other=x",
      ...port,
    ]);
    expect(both.code, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout)).toEqual({ stats: [] });
    const byRole = await runCli(["stats", "-o", "json", "--label", "role=sleeper", ...port]);
    expect(byRole.stdout).toContain(container);
  }, 60_000);

  it("info: the runtime's conditions and its verbose info as JSON objects, not strings of JSON", async () => {
    const r = await runCli(["info", ...port]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown> & {
      status: { conditions: { type: string; status: boolean }[] };
    };
    expect(info.status.conditions).toContainEqual(
      expect.objectContaining({ type: "RuntimeReady", status: true }),
    );
    const verbose = Object.entries(info).filter(
      ([k]) => !["status", "runtime_handlers", "features"].includes(k),
    );
    expect(verbose.length).toBeGreaterThan(0);
    expect(verbose.some(([, v]) => typeof v === "object" && v !== null)).toBe(true);
    const quiet = await runCli(["info", "-q", "-o", "yaml", ...port]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/^status:\n {2}conditions:\n/);
  });

  it("update: the new CPU shares and memory limit are what the container's cgroup holds", async () => {
    const r = await runCli(["update", container, "--cpu-share", "512", "--memory", "64m", ...port]);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: `${container}\n` });
    const read = async (path: string) =>
      Buffer.from((await cri.execSync({ containerId: container, cmd: ["cat", path], timeout: 10 })).stdout)
        .toString()
        .trim();
    // cgroup v1 (runc mounts the container's own cgroup) or v2
    const v1 =
      (await cri.execSync({ containerId: container, cmd: ["test", "-d", "/sys/fs/cgroup/memory"] }))
        .exitCode === 0;
    if (v1) {
      expect(await read("/sys/fs/cgroup/memory/memory.limit_in_bytes")).toBe(String(64 * 1024 * 1024));
      expect(await read("/sys/fs/cgroup/cpu/cpu.shares")).toBe("512");
    } else {
      expect(await read("/sys/fs/cgroup/memory.max")).toBe(String(64 * 1024 * 1024));
    }
    const bad = await runCli(["update", container, "--memory", "lots", ...port]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      '--memory: expected a non-negative integer (bytes, or 512m, 1g), got "lots"',
    );
    const nothing = await runCli(["update", container, ...port]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("nothing to change");
  }, 60_000);

  it("bad config files are refused naming the file and the field; nothing is created", async () => {
    await writeFile(file("noname.json"), JSON.stringify({ metadata: { namespace: "default" } }));
    const noName = await runCli(["runp", file("noname.json"), ...port]);
    expect(noName.code).toBe(1);
    expect(noName.stderr).toContain(`${file("noname.json")}: metadata.name: `);

    await writeFile(file("labels.yaml"), "metadata:\n  name: x\nlabels:\n  app: [1, 2]\n");
    const labels = await runCli(["runp", file("labels.yaml"), ...port]);
    expect(labels.code).toBe(1);
    expect(labels.stderr).toContain(`${file("labels.yaml")}: labels.app: expected string`);

    await writeFile(file("broken.yaml"), "metadata: {name: x\n");
    const broken = await runCli(["runp", file("broken.yaml"), ...port]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`${file("broken.yaml")}: invalid YAML`);

    await writeFile(file("broken.json"), '{"metadata": ');
    const brokenJson = await runCli(["runp", file("broken.json"), ...port]);
    expect(brokenJson.stderr).toContain(`${file("broken.json")}: invalid JSON`);

    await writeFile(file("noimage.yaml"), "metadata:\n  name: x\nimage:\n  image: 5\n");
    const noImage = await runCli(["create", pod, file("noimage.yaml"), file("pod.json"), ...port]);
    expect(noImage.code).toBe(1);
    expect(noImage.stderr).toContain(`${file("noimage.yaml")}: image.image: expected string`);

    const missing = await runCli(["runp", file("nothing-here.json"), ...port]);
    expect(missing.stderr).toContain(`cannot read ${file("nothing-here.json")}`);

    await writeFile(file("other.json"), JSON.stringify({ metadata: { name: "other", uid: "other-uid" } }));
    const handler = await runCli(["runp", "--runtime", "no-such-handler", file("other.json"), ...port]);
    expect(handler.code).toBe(1);
    expect(handler.stderr).toContain("no-such-handler");

    const strict = await runCli(["stats", "--al", ...port]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('"--al"');
    const format = await runCli(["stats", "-o", "xml", ...port]);
    expect(format.code).toBe(1);
    expect(format.stderr).toContain('--output "xml": expected json, yaml or table');

    const { items } = await cri.listPodSandbox({});
    expect(items.map((p) => p.id)).toEqual([pod]);
  }, 60_000);

  it("events ends on Ctrl-C with exit code 0", async () => {
    const exit = new Promise<number | null>((done) => events.on("close", done));
    events.kill("SIGINT");
    expect(await exit).toBe(0);
    expect(eventsErr).toBe("");
  });
});
