/** Pods networked through CNI with real runc + conmon + the real plugins (bridge, host-local, portmap) on the fenced bridge svntest1. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import type { SandboxRecord } from "@servin/runtime-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PLUGIN_DIR, realPartsMissing, type TestNet, testNetUp } from "../../cni/test/fixtures/bridge-net.js";
import {
  canRunReal,
  containerRecord,
  createAndStart,
  createHarness,
  destroyHarnessDirs,
  type Harness,
  leaks,
  removalsSettled,
  runPod,
  sandboxRecord,
} from "./fixtures/harness.js";

const real = canRunReal();
const missing = real.ok ? realPartsMissing() : real.why;
if (missing && process.env.SERVIN_REQUIRE_REAL === "1")
  throw new Error(`SERVIN_REQUIRE_REAL=1 but ${missing}`);

/** Reads what the server at host:port says first. */
function tcpRead(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let data = "";
    s.setTimeout(10_000, () => s.destroy(new Error(`no answer from ${host}:${port}`)));
    s.on("data", (d) => {
      data += d.toString();
    });
    s.on("end", () => resolve(data));
    s.on("error", reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** This suite's own fenced bridge and /24 (other suites with their own run beside it). */
const BRIDGE = "svntest1";
const SUBNET = "10.99.1.0/24";

/** Veths enslaved to the test bridge (one per attached pod). */
function bridgeVeths(): string[] {
  return execFileSync("ip", ["-o", "link", "show", "master", BRIDGE], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.trim() !== "");
}

const netnsMounted = (path: string) => readFileSync("/proc/self/mountinfo", "utf8").includes(` ${path} `);

describe.skipIf(missing !== undefined)("oci backend with CNI (real runc + plugins, fenced bridge)", () => {
  let net: TestNet;
  let h: Harness;
  let countLog: string;
  const pods: SandboxRecord[] = [];

  /** The commands the counting plugin saw for a pod, in order ("ADD", "DEL"). */
  const commandsFor = async (id: string) =>
    (await readFile(countLog, "utf8").catch(() => ""))
      .split("\n")
      .filter((l) => l.endsWith(` ${id}`))
      .map((l) => l.split(" ")[0]);

  const webPod = async (hostPort: number) => {
    const s = sandboxRecord({
      portMappings: [
        { protocol: "TCP", containerPort: 8080, hostPort, hostIp: "127.0.0.1" },
        // No host port: not published (containerd's rule), and not an error.
        { protocol: "TCP", containerPort: 9090 },
      ],
      dnsConfig: { servers: ["10.99.1.53"], searches: ["svc.test"], options: ["ndots:2"] },
    });
    pods.push(s);
    return runPod(h.backend, s);
  };

  beforeAll(async () => {
    net = await testNetUp({ bridge: BRIDGE, subnet: SUBNET }); // the guard rules are in before any pod is attached
    const bin = join(net.root, "bin");
    await mkdir(bin, { recursive: true });
    countLog = join(net.root, "commands.log");
    // A chained no-op plugin that logs each command it runs: proves DEL runs exactly once.
    writeFileSync(
      join(bin, "svn-count"),
      `#!${process.execPath}\nconst fs=require("fs");const c=JSON.parse(fs.readFileSync(0,"utf8"));` +
        `fs.appendFileSync(c.logFile,process.env.CNI_COMMAND+" "+process.env.CNI_CONTAINERID+"\\n");` +
        `if(process.env.CNI_COMMAND==="ADD")process.stdout.write(JSON.stringify({cniVersion:c.cniVersion,...c.prevResult}));\n`,
      { mode: 0o755 },
    );
    await net.writeConf(
      "10-svntest.conflist",
      net.conflist("1.0.0", [{ type: "svn-count", logFile: countLog }]),
    );
    h = await createHarness({ cni: { confDir: net.confDir, binDirs: [bin, PLUGIN_DIR] } });
  }, 60_000);

  afterAll(async () => {
    if (!h) {
      await net?.down();
      return;
    }
    for (const s of pods) await h.backend.removeSandbox(s).catch(() => {});
    const left = await leaks(h);
    const allocations = await net.allocations();
    await h.backend.close();
    await net.down();
    destroyHarnessDirs(h);
    expect(left).toEqual([]);
    expect(allocations).toEqual([]);
  }, 120_000);

  it("reports NetworkReady with the network's name and plugins", async () => {
    const { network } = await h.backend.conditions();
    expect(network.ready).toBe(true);
    expect(network.message).toContain('cni network "svntest" (bridge, portmap, svn-count)');
    expect(network.info).toMatchObject({
      network: { name: "svntest", plugins: ["bridge", "portmap", "svn-count"] },
    });
  });

  it("a pod gets an IP; a container serves TCP at it and on its hostPort on 127.0.0.1; Stop releases the IP exactly once", async () => {
    const hostPort = await freePort();
    const s = await webPod(hostPort);
    const ip = (await h.backend.inspectSandbox(s)).network?.ip;
    expect(ip).toMatch(/^10\.99\.1\.\d+$/);
    expect(await net.allocations()).toContain(ip);
    const netns = (s.backendState as { netns?: string }).netns as string;
    expect(netnsMounted(netns)).toBe(true);

    const c = await createAndStart(
      h.backend,
      containerRecord(s, h.image, { command: ["nc", "-ll", "-p", "8080", "-e", "echo", "hello from pod"] }),
      s,
    );
    // The container is in the pod's network: it sees the IP on eth0, and the pod's resolv.conf.
    const addr = await h.backend.execSync(c, ["ip", "-o", "-4", "addr", "show", "eth0"], 10);
    expect(Buffer.from(addr.stdout).toString()).toContain(`${ip}/24`);
    const resolv = await h.backend.execSync(c, ["cat", "/etc/resolv.conf"], 10);
    expect(Buffer.from(resolv.stdout).toString()).toBe(
      "search svc.test\nnameserver 10.99.1.53\noptions ndots:2\n",
    );
    await vi.waitFor(async () => expect(await tcpRead(ip as string, 8080)).toBe("hello from pod\n"), {
      timeout: 10_000,
    });
    expect(await tcpRead("127.0.0.1", hostPort)).toBe("hello from pod\n");
    expect(net.natRulesFor(s.id)).not.toBe("");

    await h.backend.stopContainer(c, 0);
    await h.backend.stopSandbox(s);
    await h.backend.stopSandbox(s); // kubelet retries Stop: no second DEL
    expect(await commandsFor(s.id)).toEqual(["ADD", "DEL"]);
    expect(await net.allocations()).not.toContain(ip);
    expect(net.natRulesFor(s.id)).toBe("");
    expect((await h.backend.inspectSandbox(s)).network).toEqual({});
    // The netns stays until Remove (containers may still be inspected).
    expect(netnsMounted(netns)).toBe(true);

    await h.backend.removeContainer(c, s);
    await h.backend.removeSandbox(s);
    expect(await commandsFor(s.id)).toEqual(["ADD", "DEL"]);
    expect(await removalsSettled(h)).toEqual([]);
    expect(netnsMounted(netns)).toBe(false);
    expect(existsSync(netns)).toBe(false);
  }, 120_000);

  it("the infra pins the pod's netns itself (lo up, its own netns); a launch failing after the pin leaves no netns, IP or record", async () => {
    const s = sandboxRecord();
    pods.push(s);
    await runPod(h.backend, s);
    const netns = (s.backendState as { netns?: string }).netns as string;
    const pid = (s.backendState as { pid: number }).pid;
    expect(netnsMounted(netns)).toBe(true);
    // The pinned file is the infra's own network namespace (an nsfs bind mount keeps its inode).
    expect(execFileSync("stat", ["-L", "-c", "%i", `/proc/${pid}/ns/net`], { encoding: "utf8" })).toBe(
      execFileSync("stat", ["-c", "%i", netns], { encoding: "utf8" }),
    );
    const links = execFileSync("nsenter", [`--net=${netns}`, "ip", "-br", "link"], { encoding: "utf8" });
    expect(links).toMatch(/^lo\s+UNKNOWN/m); // up (loopback reports UNKNOWN when up)
    expect(links).toMatch(/^eth0@\S+\s+UP/m);
    // The attachment record a DEL needs, in the CNI cache (the backend's default, <root>/cni).
    expect(existsSync(join(h.root, "cni", `${s.id}.json`))).toBe(true);
    await h.backend.removeSandbox(s);

    // The sysctl's name passes the checks, its write inside the new namespaces fails: after the pin.
    const before = await net.allocations();
    const bad = sandboxRecord({ linux: { sysctls: { "net.ipv4.no_such_sysctl": "1" } } });
    await expect(h.backend.runSandbox(bad)).rejects.toThrow(/did not start: .*no_such_sysctl/);
    expect(await net.allocations()).toEqual(before);
    expect(existsSync(join(h.stateDir, "netns", bad.id))).toBe(false);
    expect(existsSync(join(h.root, "cni", `${bad.id}.json`))).toBe(false);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(bad.id);
    expect(bridgeVeths().join("\n")).not.toContain(bad.id.slice(0, 8));
  }, 60_000);

  it("a Run that finds the pod's netns pinned already (a retry after a cut-short launch) joins it, lo up", async () => {
    const s = sandboxRecord();
    pods.push(s);
    const path = join(h.stateDir, "netns", s.id);
    await mkdir(join(h.stateDir, "netns"), { recursive: true });
    writeFileSync(path, "");
    execFileSync("unshare", [`--net=${path}`, "true"]); // pinned, lo still down
    const inode = execFileSync("stat", ["-c", "%i", path], { encoding: "utf8" });
    await runPod(h.backend, s);
    const pid = (s.backendState as { pid: number }).pid;
    expect((s.backendState as { netns?: string }).netns).toBe(path);
    expect(execFileSync("stat", ["-L", "-c", "%i", `/proc/${pid}/ns/net`], { encoding: "utf8" })).toBe(inode);
    const links = execFileSync("nsenter", [`--net=${path}`, "ip", "-br", "link"], { encoding: "utf8" });
    expect(links).toMatch(/^lo\s+UNKNOWN/m);
    expect(links).toMatch(/^eth0@\S+\s+UP/m);
    // The attachment record a DEL needs, in the CNI cache (the backend's default, <root>/cni).
    expect(existsSync(join(h.root, "cni", `${s.id}.json`))).toBe(true);
    await h.backend.removeSandbox(s);
    expect(await removalsSettled(h)).toEqual([]);
    expect(netnsMounted(path)).toBe(false);
  }, 60_000);

  it("Remove without Stop releases the IP, the portmap rules and the netns", async () => {
    const s = await webPod(await freePort());
    const ip = (await h.backend.inspectSandbox(s)).network?.ip;
    const netns = (s.backendState as { netns?: string }).netns as string;
    expect(await net.allocations()).toContain(ip);
    await h.backend.removeSandbox(s);
    await h.backend.removeSandbox(s); // idempotent
    expect(await commandsFor(s.id)).toEqual(["ADD", "DEL"]);
    expect(await net.allocations()).not.toContain(ip);
    expect(net.natRulesFor(s.id)).toBe("");
    expect(await removalsSettled(h)).toEqual([]);
    expect(existsSync(netns)).toBe(false);
  }, 120_000);

  it("a host-network pod runs no plugin and gets no netns", async () => {
    const s = sandboxRecord({
      linux: { securityContext: { namespaceOptions: { network: "NODE", pid: "POD", ipc: "POD" } } },
    });
    pods.push(s);
    await runPod(h.backend, s);
    expect((s.backendState as { netns?: string }).netns).toBeUndefined();
    expect((await h.backend.inspectSandbox(s)).network).toEqual({});
    await h.backend.removeSandbox(s);
    expect(await commandsFor(s.id)).toEqual([]);
  }, 60_000);

  it("with no cni config at all, NetworkReady is false and a pod gets loopback only (as before CNI)", async () => {
    const empty = join(net.root, "empty.d");
    await mkdir(empty, { recursive: true });
    const plain = await createHarness({ cni: { confDir: empty, binDirs: [PLUGIN_DIR] } });
    try {
      const { network } = await plain.backend.conditions();
      expect(network).toMatchObject({ ready: false, reason: "NetworkPluginNotReady" });
      expect(network.message).toContain(`no cni config found in ${empty}`);
      const s = await runPod(plain.backend, sandboxRecord());
      expect((s.backendState as { netns?: string }).netns).toBeUndefined();
      expect(await plain.backend.inspectSandbox(s)).toMatchObject({ ready: true, network: {} });
      await plain.backend.removeSandbox(s);
      expect(await commandsFor(s.id)).toEqual([]);
      expect(await leaks(plain)).toEqual([]);
    } finally {
      await plain.backend.close();
      destroyHarnessDirs(plain);
    }
  }, 60_000);

  it("a restart reconciles a pod whose record is gone: no allocation, veth, netns mount or portmap rule is left", async () => {
    const vethsBefore = bridgeVeths().length;
    const keep = await webPod(await freePort());
    const keptIp = (await h.backend.inspectSandbox(keep)).network?.ip;
    const s = await webPod(await freePort());
    const ip = (await h.backend.inspectSandbox(s)).network?.ip;
    const netns = (s.backendState as { netns?: string }).netns as string;
    expect(bridgeVeths()).toHaveLength(vethsBefore + 2);
    // The pod goes while its network stays (as a SIGKILL between the two could leave it):
    // a backend without CNI over the same dirs removes everything else of it.
    const { createOciBackend } = await import("../src/index.js");
    const plain = await createOciBackend({
      root: h.root,
      stateDir: h.stateDir,
      cgroupParent: h.cgroupParent,
    });
    await plain.removeSandbox(s);
    await plain.close();
    expect(await net.allocations()).toContain(ip);
    expect(netnsMounted(netns)).toBe(true);

    await h.reopen(); // start-up reconcile runs in the background
    await vi.waitFor(async () => expect(await net.allocations()).not.toContain(ip), { timeout: 30_000 });
    expect(await commandsFor(s.id)).toEqual(["ADD", "DEL"]);
    expect(bridgeVeths()).toHaveLength(vethsBefore + 1);
    expect(net.natRulesFor(s.id)).toBe("");
    await vi.waitFor(() => expect(existsSync(netns)).toBe(false), { timeout: 30_000 });
    expect(netnsMounted(netns)).toBe(false);
    // A pod that lives across the restart keeps its network.
    expect(await net.allocations()).toContain(keptIp);
    expect(await h.backend.inspectSandbox(keep)).toMatchObject({ ready: true, network: { ip: keptIp } });
  }, 120_000);
});
