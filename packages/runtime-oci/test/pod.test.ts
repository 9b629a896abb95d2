/** Real pods on this host: shared namespaces, pod files, exits, logs, exec, stop, mounts, users, stats. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { ContainerId } from "@servin/cri-types";
import type { ContainerExit, ContainerRecord, SandboxRecord } from "@servin/runtime-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  canRunReal,
  containerRecord,
  createAndStart,
  createHarness,
  destroyHarnessDirs,
  type Harness,
  leaks,
  runPod,
  sandboxRecord,
} from "./fixtures/harness.js";

const real = canRunReal();
if (!real.ok)
  console.warn(
    `skipping runtime-oci integration tests: ${real.why} (need root, runc, conmon, catatonit, busybox)`,
  );

const text = (b: Uint8Array) => Buffer.from(b).toString();

/** The propagation (mountinfo optional fields) of the mount holding `path`. */
function propagationOf(path: string): string {
  let best = { mp: "", opt: "" };
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = (line.split(" - ")[0] ?? "").split(" ");
    const mp = f[4] ?? "";
    if (mp === "") continue;
    const inside = path === mp || path.startsWith(mp === "/" ? "/" : `${mp}/`);
    if (inside && mp.length >= best.mp.length) best = { mp, opt: f.slice(6).join(" ") };
  }
  return `${best.mp} [${best.opt}]`;
}
/** The host's propagation before any test ran: it must be the same after them all. */
const hostPropagation = () => ({ root: propagationOf("/"), tmp: propagationOf(tmpdir()) });
const hostBefore = hostPropagation();

describe.skipIf(!real.ok)("oci backend: pods and containers (real runc + conmon)", () => {
  let h: Harness;
  const exits = new Map<string, ContainerExit>();
  const exitWaiters = new Map<string, (e: ContainerExit) => void>();
  const pods: SandboxRecord[] = [];
  const containers: ContainerRecord[] = [];

  const waitExit = (id: string) =>
    new Promise<ContainerExit>((resolve) => {
      const e = exits.get(id);
      if (e) resolve(e);
      else exitWaiters.set(id, resolve);
    });

  const pod = async (config: Parameters<typeof sandboxRecord>[0] = {}) => {
    const s = await runPod(h.backend, sandboxRecord(config, h.logDir));
    pods.push(s);
    return s;
  };
  const ctr = async (
    s: SandboxRecord,
    config: Parameters<typeof containerRecord>[2],
    opts: { log?: boolean; start?: boolean } = {},
  ) => {
    const c = containerRecord(s, h.image, config, opts.log ? join(h.logDir, `${Math.random()}.log`) : "");
    containers.push(c);
    if (opts.start === false) {
      c.backendState = (await h.backend.createContainer(c, s)).backendState;
      return c;
    }
    return createAndStart(h.backend, c, s);
  };
  const exec = async (c: ContainerRecord, cmd: string[], timeout = 10) => h.backend.execSync(c, cmd, timeout);
  /** Mount points the propagation tests make of their own (outside the harness dir, which the leak check scans). */
  const propDir = mkdtempSync(join(tmpdir(), "servin-oci-prop-"));
  const ownMounts: string[] = [];

  beforeAll(async () => {
    h = await createHarness();
    h.backend.onContainerExit((id: ContainerId, e) => {
      exits.set(id, e);
      exitWaiters.get(id)?.(e);
    });
  });

  afterAll(async () => {
    if (!h) return;
    for (const c of containers) await h.backend.removeContainer(c, undefined).catch(() => {});
    for (const s of pods) await h.backend.removeSandbox(s).catch(() => {});
    await h.backend.close();
    destroyHarnessDirs(h);
  });
  afterAll(() => {
    for (const mp of ownMounts)
      execFileSync("sh", ["-c", `umount -R ${JSON.stringify(mp)} 2>/dev/null || true`]);
    rmSync(propDir, { recursive: true, force: true });
  });

  it("reports honest conditions", async () => {
    const c = await h.backend.conditions();
    expect(c.runtime.ready).toBe(true);
    expect(c.network.ready).toBe(false);
    expect(c.network.reason).toBe("NetworkPluginNotReady");
    expect(h.backend.handlers()).toContain("runc");
  });

  it("runs two containers that share the pod's network, IPC and UTS namespaces", async () => {
    const s = await pod({ hostname: "sharedpod" });
    const web = await ctr(s, { command: ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"] });
    const client = await ctr(s, { command: ["sleep", "3600"] });
    const ns = async (c: ContainerRecord, kind: string) =>
      text((await exec(c, ["readlink", `/proc/self/ns/${kind}`])).stdout).trim();
    for (const kind of ["net", "ipc", "uts"]) {
      const a = await ns(web, kind);
      expect(a).toMatch(new RegExp(`^${kind}:\\[\\d+\\]$`));
      expect(await ns(client, kind)).toBe(a);
    }
    // Not the host's network namespace.
    const hostNet = execFileSync("readlink", ["/proc/self/ns/net"]).toString().trim();
    expect(await ns(web, "net")).not.toBe(hostNet);
    // Loopback is up and the other container reaches the server through it (retry until httpd listens).
    let body = "";
    for (let i = 0; i < 50 && !body.includes("hello"); i++) {
      const r = await exec(client, ["wget", "-qO-", "http://127.0.0.1:8080/index.html"]);
      body = text(r.stdout);
      if (!body.includes("hello")) await new Promise((r) => setTimeout(r, 100));
    }
    expect(body).toBe("hello from httpd\n");
    // A shared IPC object: a POSIX shm file written by one is seen by the other.
    await exec(web, ["sh", "-c", "echo ipc-ok > /dev/shm/token"]);
    expect(text((await exec(client, ["cat", "/dev/shm/token"])).stdout)).toBe("ipc-ok\n");
    expect(text((await exec(client, ["hostname"])).stdout).trim()).toBe("sharedpod");
    const obs = await h.backend.inspectSandbox(s);
    expect(obs.ready).toBe(true);
    expect(obs.info?.pid).toBeGreaterThan(0);
    // conmon left the server's (systemd-tracked) cgroup for the pod's.
    const conmonPid = readFileSync(join(h.stateDir, "bundles", web.id, "conmon.pid"), "utf8").trim();
    const cg = readFileSync(`/proc/${conmonPid}/cgroup`, "utf8");
    expect(cg).toMatch(new RegExp(`^0::/${h.cgroupParent}/pod-${s.id}/conmon$`, "m"));
  });

  it("shares the infra's PID namespace when the pod asks, and uses the host's network for NODE", async () => {
    const shared = await pod({ linux: { securityContext: { namespaceOptions: { pid: "POD" } } } });
    const a = await ctr(shared, { command: ["sleep", "3600"] });
    const ps = text((await exec(a, ["ps", "-o", "pid,args"])).stdout);
    expect(ps).toMatch(/^\s*1 \S*\/(?:pause|catatonit) -P$/m); // the infra is PID 1 of the pod
    expect(ps).toMatch(/^\s*(?!1 )\d+ sleep 3600$/m); // and the container's process is not
    // What a gRPC client sends for POD: nothing (the proto's zero value), on the pod and the container.
    const zero = await pod({ linux: { securityContext: { namespaceOptions: {} } } });
    const z = await ctr(zero, {
      command: ["sleep", "3600"],
      linux: { securityContext: { namespaceOptions: {} } },
    });
    expect(text((await exec(z, ["cat", "/proc/1/cmdline"])).stdout)).toMatch(
      /^\S*\/(?:pause|catatonit)\0-P\0$/,
    );
    // CONTAINER: a private PID namespace, the container's process is PID 1.
    const own = { linux: { securityContext: { namespaceOptions: { pid: "CONTAINER" as const } } } };
    const o = await ctr(await pod(own), { command: ["sleep", "3600"], ...own });
    expect(text((await exec(o, ["cat", "/proc/1/cmdline"])).stdout)).toBe("sleep\x003600\0");
    const hostNet = await pod({ linux: { securityContext: { namespaceOptions: { network: "NODE" } } } });
    const b = await ctr(hostNet, { command: ["sleep", "3600"] });
    const net = text((await exec(b, ["readlink", "/proc/self/ns/net"])).stdout).trim();
    expect(net).toBe(execFileSync("readlink", ["/proc/self/ns/net"]).toString().trim());
    const uts = text((await exec(b, ["hostname"])).stdout).trim();
    expect(uts).toBe(execFileSync("hostname").toString().trim());
  });

  it("applies the pod's hostname, DNS config, sysctls and /etc/hosts; merges image env", async () => {
    const s = await pod({
      hostname: "dnspod",
      dnsConfig: {
        servers: ["10.96.0.10"],
        searches: ["ns.svc.cluster.local", "svc.cluster.local"],
        options: ["ndots:5"],
      },
      linux: { sysctls: { "net.ipv4.ip_unprivileged_port_start": "80" } },
    });
    const c = await ctr(s, {
      command: ["sleep", "3600"],
      envs: [
        { key: "IMAGE_ENV", value: "2" },
        { key: "X", value: "y" },
      ],
    });
    expect(text((await exec(c, ["cat", "/etc/resolv.conf"])).stdout)).toBe(
      "search ns.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
    );
    expect(text((await exec(c, ["hostname"])).stdout)).toBe("dnspod\n");
    expect(text((await exec(c, ["cat", "/etc/hostname"])).stdout)).toBe("dnspod\n");
    expect(text((await exec(c, ["cat", "/etc/hosts"])).stdout)).toContain("dnspod");
    expect(text((await exec(c, ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"])).stdout)).toBe(
      "80\n",
    );
    const env = text((await exec(c, ["env"])).stdout);
    expect(env).toContain("IMAGE_ENV=2");
    expect(env).toContain("X=y");
    expect(env).toContain("HOSTNAME=dnspod");
    // Layer order: the top layer's /etc/layer wins over the base's.
    expect(text((await exec(c, ["cat", "/etc/layer"])).stdout)).toBe("top\n");
  });

  it("names a pod without a hostname after the node, as containerd and CRI-O do", async () => {
    const s = await pod({
      hostname: "",
      metadata: {
        name: `a-pod-name-much-longer-than-the-kernels-64-byte-hostname-limit-${"x".repeat(20)}`,
        namespace: "default",
        uid: "u",
        attempt: 0,
      },
    });
    const c = await ctr(s, { command: ["sleep", "3600"] });
    expect(text((await exec(c, ["hostname"])).stdout)).toBe(`${hostname()}\n`);
    expect(text((await exec(c, ["cat", "/etc/hostname"])).stdout)).toBe(`${hostname()}\n`);
    // Still its own UTS namespace: only host-network pods share the node's.
    const uts = text((await exec(c, ["readlink", "/proc/self/ns/uts"])).stdout).trim();
    expect(uts).not.toBe(execFileSync("readlink", ["/proc/self/ns/uts"]).toString().trim());
  });

  it("runs a host-IPC pod with a fresh mqueue mount, whether or not the host has /dev/mqueue", async () => {
    const hostIpc = { linux: { securityContext: { namespaceOptions: { ipc: "NODE" as const } } } };
    const s = await pod(hostIpc);
    const c = await ctr(s, { command: ["sleep", "3600"] });
    const ipc = text((await exec(c, ["readlink", "/proc/self/ns/ipc"])).stdout).trim();
    expect(ipc).toBe(execFileSync("readlink", ["/proc/self/ns/ipc"]).toString().trim());
    const mounts = text((await exec(c, ["cat", "/proc/self/mounts"])).stdout);
    expect(mounts).toMatch(/^mqueue \/dev\/mqueue mqueue /m);
  });

  it("reports exit codes 0 and non-zero with their reasons, without polling", async () => {
    const s = await pod();
    const ok = await ctr(s, { command: ["true"] });
    const bad = await ctr(s, { command: ["sh", "-c", "exit 3"] });
    const e0 = await waitExit(ok.id);
    const e3 = await waitExit(bad.id);
    expect(e0).toMatchObject({ exitCode: 0, reason: "Completed" });
    expect(e3).toMatchObject({ exitCode: 3, reason: "Error" });
    expect(e3.finishedAt).toBeGreaterThan(0n);
    const obs = await h.backend.inspectContainer(bad);
    expect(obs).toMatchObject({ state: "exited", exit: { exitCode: 3, reason: "Error" } });
  });

  it("writes CRI-format logs, including a partial line, and reopens them", async () => {
    const s = await pod();
    const c = await ctr(
      s,
      { command: ["sh", "-c", "echo out1; echo err1 >&2; printf partial; sleep 0.5; echo; sleep 3600"] },
      { log: true },
    );
    const line = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) (F|P) (.*)$/;
    let lines: string[] = [];
    for (let i = 0; i < 100 && lines.length < 4; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = readFileSync(c.logPath, "utf8").split("\n").filter(Boolean);
    }
    const parsed = lines.map((l) => line.exec(l)?.slice(2, 5));
    expect(parsed).toContainEqual(["stdout", "F", "out1"]);
    expect(parsed).toContainEqual(["stderr", "F", "err1"]);
    expect(parsed).toContainEqual(["stdout", "P", "partial"]);
    for (const l of lines) expect(l).toMatch(line);
    // Rotation: move the file away, ask conmon to reopen, new output goes to a fresh file.
    execFileSync("mv", [c.logPath, `${c.logPath}.1`]);
    await h.backend.reopenContainerLog(c);
    // The new file is there as soon as the call returns (kubelet and critest look at once).
    expect(existsSync(c.logPath)).toBe(true);
    // The pod shares its PID namespace: the container's process is sh, not PID 1.
    await exec(c, ["sh", "-c", "echo after-rotate > /proc/$(pidof sleep | cut -d' ' -f1)/fd/1"]);
    let fresh = "";
    for (let i = 0; i < 50 && !fresh.includes("after-rotate"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      fresh = readFileSync(c.logPath, "utf8");
    }
    expect(fresh).toMatch(/ stdout F after-rotate\n/);
    // Reopening without a rotation also waits for conmon's new file (it renames <log>.tmp over the log).
    const ino = statSync(c.logPath).ino;
    await h.backend.reopenContainerLog(c);
    expect(statSync(c.logPath).ino).not.toBe(ino);
  });

  it("execs synchronously with output and exit code, and kills a command that times out", async () => {
    const s = await pod();
    const c = await ctr(s, { command: ["sleep", "3600"] });
    const r = await exec(c, ["sh", "-c", "echo to-out; echo to-err >&2; exit 7"]);
    expect(text(r.stdout)).toBe("to-out\n");
    expect(text(r.stderr)).toBe("to-err\n");
    expect(r.exitCode).toBe(7);
    await expect(exec(c, ["sleep", "30"], 1)).rejects.toMatchObject({ code: "DeadlineExceeded" });
    const ps = text((await exec(c, ["ps", "-o", "args"])).stdout);
    expect(ps).not.toContain("sleep 30");
  });

  it("stops with the stop signal, escalating to SIGKILL when it is ignored", async () => {
    const s = await pod();
    const stubborn = await ctr(s, { command: ["sh", "-c", 'trap "" TERM; while true; do sleep 0.2; done'] });
    const polite = await ctr(s, {
      command: ["sh", "-c", 'trap "exit 0" TERM; while true; do sleep 0.2; done'],
    });
    const e1 = await h.backend.stopContainer(stubborn, 1);
    expect(e1).toMatchObject({ exitCode: 137, reason: "Error" });
    const e2 = await h.backend.stopContainer(polite, 30);
    expect(e2).toMatchObject({ exitCode: 0, reason: "Completed" });
    // Idempotent.
    expect(await h.backend.stopContainer(stubborn, 1)).toMatchObject({ exitCode: 137 });
    expect(await h.backend.inspectContainer(stubborn)).toMatchObject({ state: "exited" });
  });

  it("bind-mounts with each propagation mode and read-only, from a source the test made shared", async () => {
    // A mount point of the test's own (a bind of a temp dir onto itself), made
    // shared by the test: Servin itself never changes a host mount's propagation.
    const src = join(propDir, "shared-src");
    mkdirSync(src, { recursive: true });
    ownMounts.push(src);
    execFileSync("mount", ["--bind", src, src]);
    execFileSync("mount", ["--make-shared", src]);
    writeFileSync(join(src, "hello"), "hi\n");
    const s = await pod();
    const c = await ctr(s, {
      command: ["sleep", "3600"],
      mounts: [
        { containerPath: "/mnt/private", hostPath: src, propagation: "PROPAGATION_PRIVATE" },
        { containerPath: "/mnt/slave", hostPath: src, propagation: "PROPAGATION_HOST_TO_CONTAINER" },
        { containerPath: "/mnt/shared", hostPath: src, propagation: "PROPAGATION_BIDIRECTIONAL" },
        { containerPath: "/mnt/ro", hostPath: src, readonly: true },
      ],
    });
    const info = text((await exec(c, ["cat", "/proc/self/mountinfo"])).stdout).split("\n");
    const opt = (mp: string) => info.find((l) => l.split(" ")[4] === mp) ?? "";
    expect(opt("/mnt/shared")).toMatch(/ shared:\d+/);
    expect(opt("/mnt/slave")).toMatch(/ master:\d+/);
    expect(opt("/mnt/slave")).not.toMatch(/ shared:/);
    expect(opt("/mnt/private")).not.toMatch(/ (shared|master):/);
    expect(text((await exec(c, ["cat", "/mnt/ro/hello"])).stdout)).toBe("hi\n");
    const w = await exec(c, ["sh", "-c", "echo x > /mnt/ro/nope"]);
    expect(w.exitCode).not.toBe(0);
    // A mount made on the host after start reaches the slave and shared views only.
    mkdirSync(join(src, "late"), { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", join(src, "late")]);
    writeFileSync(join(src, "late", "marker"), "late\n");
    const see = async (p: string) => (await exec(c, ["cat", `${p}/late/marker`])).exitCode === 0;
    expect(await see("/mnt/slave")).toBe(true);
    expect(await see("/mnt/shared")).toBe(true);
    expect(await see("/mnt/private")).toBe(false);
    await h.backend.removeContainer(c, s);
  });

  it("refuses BIDIRECTIONAL and HOST_TO_CONTAINER from a private source with FailedPrecondition, changing nothing", async () => {
    const src = join(propDir, "private-src");
    mkdirSync(src, { recursive: true });
    ownMounts.push(src);
    execFileSync("mount", ["--bind", src, src]);
    execFileSync("mount", ["--make-private", src]);
    const before = propagationOf(src);
    const s = await pod();
    for (const propagation of ["PROPAGATION_BIDIRECTIONAL", "PROPAGATION_HOST_TO_CONTAINER"] as const) {
      const c = containerRecord(s, h.image, {
        command: ["sleep", "3600"],
        mounts: [{ containerPath: "/mnt/x", hostPath: join(src, "sub"), propagation }],
      });
      const err = await h.backend.createContainer(c, s).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "FailedPrecondition" });
      const msg = (err as Error).message;
      expect(msg).toContain(`"${join(src, "sub")}" is mounted on "${src}"`);
      expect(msg).toContain(
        propagation === "PROPAGATION_BIDIRECTIONAL" ? "not a shared mount" : "not a shared or slave mount",
      );
      // The failed create cleaned up after itself.
      expect(existsSync(join(h.stateDir, "bundles", c.id))).toBe(false);
    }
    expect(propagationOf(src)).toEqual(before);
    // A slave source is enough for HOST_TO_CONTAINER: a bind of a shared mount, made its slave.
    const slaveSrc = join(propDir, "slave-src");
    mkdirSync(slaveSrc, { recursive: true });
    ownMounts.push(slaveSrc);
    execFileSync("mount", ["--make-shared", src]);
    execFileSync("mount", ["--bind", src, slaveSrc]);
    execFileSync("mount", ["--make-slave", slaveSrc]);
    expect(propagationOf(slaveSrc)).toMatch(/master:\d+/);
    const slave = await ctr(s, {
      command: ["sleep", "3600"],
      mounts: [{ containerPath: "/mnt/x", hostPath: slaveSrc, propagation: "PROPAGATION_HOST_TO_CONTAINER" }],
    });
    await expect(
      h.backend.createContainer(
        containerRecord(s, h.image, {
          command: ["sleep", "3600"],
          mounts: [{ containerPath: "/mnt/x", hostPath: slaveSrc, propagation: "PROPAGATION_BIDIRECTIONAL" }],
        }),
        s,
      ),
    ).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("not a shared mount"),
    });
    await h.backend.removeContainer(slave, s);
  });

  it("runs as run_as_user, run_as_group and the image's user, with supplemental groups", async () => {
    const s = await pod();
    const byUid = await ctr(s, {
      command: ["sleep", "3600"],
      linux: {
        securityContext: {
          runAsUser: { value: 1000 },
          runAsGroup: { value: 3000 },
          supplementalGroups: [4000],
        },
      },
    });
    const id1 = text((await exec(byUid, ["id"])).stdout);
    expect(id1).toMatch(/^uid=1000\(app\) gid=3000/);
    expect(id1).toContain("2000(extra)");
    expect(id1).toContain("4000");
    const appImage = { ...h.image, config: { ...h.image.config, user: "app" } };
    const c2 = containerRecord(s, appImage, { command: ["sleep", "3600"] });
    containers.push(c2);
    await createAndStart(h.backend, c2, s);
    expect(text((await exec(c2, ["id", "-u"])).stdout)).toBe("1000\n");
    expect(
      text((await exec(c2, ["id", "-G"])).stdout)
        .trim()
        .split(" ")
        .sort(),
    ).toEqual(["1000", "2000"]);
    const c3 = containerRecord(s, h.image, {
      command: ["sleep", "3600"],
      linux: { securityContext: { runAsUsername: "nobody" } },
    });
    containers.push(c3);
    await createAndStart(h.backend, c3, s);
    expect(text((await exec(c3, ["id", "-u"])).stdout)).toBe("65534\n");
  });

  it("reports non-zero CPU, memory and writable-layer stats for a busy container", async () => {
    const s = await pod();
    const c = await ctr(s, {
      command: ["sh", "-c", "dd if=/dev/zero of=/tmp/blob bs=1k count=256; while :; do :; done"],
    });
    // The rate needs two samples with CPU used between them: on a loaded machine
    // the busy loop can be starved across a short window, so sample until it shows.
    let st = await h.backend.containerStats(c);
    for (let i = 0; i < 50 && !st.cpu?.usageNanoCores?.value; i++) {
      await new Promise((r) => setTimeout(r, 100));
      st = await h.backend.containerStats(c);
    }
    expect(st.cpu?.usageCoreNanoSeconds?.value).toBeGreaterThan(0);
    expect(st.cpu?.usageNanoCores?.value).toBeGreaterThan(0);
    expect(st.memory?.workingSetBytes?.value).toBeGreaterThan(0);
    expect(st.writableLayer?.usedBytes?.value).toBeGreaterThan(200_000);
    expect(st.writableLayer?.inodesUsed?.value).toBeGreaterThan(0);
    const ps = await h.backend.sandboxStats(s);
    expect(ps.cpu?.usageCoreNanoSeconds?.value).toBeGreaterThan(0);
    expect(ps.memory?.workingSetBytes?.value).toBeGreaterThan(0);
    await h.backend.updateContainerResources(c, {
      linux: { cpuQuota: 20_000, cpuPeriod: 100_000, memoryLimitInBytes: 64 << 20 },
    });
    await h.backend.stopContainer(c, 0);
  });

  it("reports OOMKilled for a container killed by its memory limit", async () => {
    const s = await pod();
    const c = await ctr(s, {
      // busybox sort holds its whole input in memory: far beyond the 16 MiB limit.
      command: ["sh", "-c", "head -c 200000000 /dev/zero | sort > /dev/null"],
      linux: { resources: { memoryLimitInBytes: 16 << 20 } },
    });
    const e = await waitExit(c.id);
    expect(e.reason).toBe("OOMKilled");
    expect(e.exitCode).toBe(137);
  });

  it("refuses images without a filesystem and unusable runtime handlers, clearly", async () => {
    const s = await pod();
    const empty = containerRecord(s, { ...h.image, layers: [] }, { command: ["true"] });
    await expect(h.backend.createContainer(empty, s)).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("has no filesystem"),
    });
    if (h.backend.handlers().includes("crun")) {
      const sc = sandboxRecord({}, h.logDir);
      sc.runtimeHandler = "crun";
      await expect(h.backend.runSandbox(sc)).rejects.toMatchObject({
        code: "FailedPrecondition",
        message: expect.stringContaining("hybrid"),
      });
    }
  });

  it("says why RuntimeReady is false when the default handler cannot run here", async () => {
    if (!h.backend.handlers().includes("crun")) return;
    const { createOciBackend } = await import("../src/index.js");
    const b = await createOciBackend({
      root: join(h.dir, "crun-root"),
      stateDir: join(h.dir, "crun-state"),
      defaultRuntime: "crun",
    });
    const c = await b.conditions();
    await b.close();
    const { detectOciHost } = await import("../src/index.js");
    if ((await detectOciHost()).cgroupMode === "hybrid") {
      expect(c.runtime).toMatchObject({ ready: false, message: expect.stringMatching(/crun.*hybrid/) });
    } else {
      expect(c.runtime.ready).toBe(true);
    }
  });

  it("leaves nothing behind once every pod is removed", async () => {
    for (const c of containers) await h.backend.removeContainer(c, undefined);
    for (const s of pods) await h.backend.stopSandbox(s);
    for (const s of pods) await h.backend.removeSandbox(s);
    // Idempotent removal of what is already gone.
    if (pods[0]) await h.backend.removeSandbox(pods[0]);
    if (containers[0]) await h.backend.removeContainer(containers[0], undefined);
    expect(await leaks(h)).toEqual([]);
  });

  it("left the propagation of the host's / and /tmp mounts as it found it", () => {
    expect(hostPropagation()).toEqual(hostBefore);
  });
});
