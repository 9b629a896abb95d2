/** @servin/cni against the real plugins (bridge, host-local, portmap) on the fenced test bridge svntest0. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFile, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CniNetwork, CniPluginError, listNetns } from "../src/index.js";
import { PLUGIN_DIR, realPartsMissing, type TestNet, testNetUp } from "./fixtures/bridge-net.js";

const missing = realPartsMissing();
if (missing && process.env.SERVIN_REQUIRE_REAL === "1")
  throw new Error(`SERVIN_REQUIRE_REAL=1 but ${missing}`);
const pod = (name: string) => ({ podName: name, podNamespace: "default", podUid: `uid-${name}` });
let seq = 0;
const newId = () => `svn${process.pid}x${++seq}${Math.random().toString(16).slice(2, 8)}`;

/** Answers one TCP connection from host to `ip:port` with what the peer says first. */
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

/** A TCP server inside the pod's netns that greets every client with `hello from <name>`. */
async function podServer(netns: string, port: number, name: string): Promise<ChildProcess> {
  const code = `require("net").createServer(s=>s.end("hello from ${name}")).listen(${port},"0.0.0.0",()=>console.log("up"))`;
  const child = spawn("nsenter", [`--net=${netns}`, process.execPath, "-e", code], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => resolve());
    child.once("exit", (c) => reject(new Error(`pod server exited ${c}`)));
  });
  return child;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(missing !== undefined)("cni network (real plugins, fenced bridge svntest0)", () => {
  let net: TestNet;
  let cni: CniNetwork;
  let binDir: string;

  beforeAll(async () => {
    net = await testNetUp(); // guard rules are in place before any pod is attached
    binDir = join(net.root, "bin");
    await mkdir(binDir, { recursive: true });
    await copyFile(join(import.meta.dirname, "fixtures/hang-plugin.sh"), join(binDir, "svn-hang"));
    await copyFile(join(import.meta.dirname, "fixtures/fail-plugin.sh"), join(binDir, "svn-fail"));
    execFileSync("chmod", ["+x", join(binDir, "svn-hang"), join(binDir, "svn-fail")]);
    await net.writeConf("10-svntest.conflist", net.conflist("1.0.0"));
    cni = new CniNetwork({
      confDir: net.confDir,
      cacheDir: net.cacheDir,
      netnsDir: net.netnsDir,
      binDirs: [binDir, PLUGIN_DIR],
      pluginTimeoutMs: 20_000,
    });
    await cni.start();
  });

  beforeEach(async () => {
    await rm(net.confDir, { recursive: true, force: true });
    await net.writeConf("10-svntest.conflist", net.conflist("1.0.0"));
    await cni.watcher.rescan();
  });

  afterAll(async () => {
    if (!net) return;
    const report = await cni?.reconcile([]);
    cni?.close();
    await net.down();
    expect(report?.failed).toEqual([]);
  });

  it("reports NetworkReady with the network's name and plugins", () => {
    expect(cni.status()).toMatchObject({
      ready: true,
      network: { name: "svntest", cniVersion: "1.0.0", plugins: ["bridge", "portmap"] },
    });
  });

  it("ADD gives the pod an IP reachable from the host and a hostPort on 127.0.0.1; DEL releases it, twice is fine", async () => {
    const id = newId();
    const netns = await cni.createNetns(id);
    const hostPort = await freePort();
    const a = await cni.setup({
      id,
      netnsPath: netns,
      pod: pod("web"),
      runtimeConfig: {
        portMappings: [{ hostPort, containerPort: 8080, protocol: "tcp", hostIP: "127.0.0.1" }],
      },
    });
    expect(a.network).toBe("svntest");
    expect(a.ips).toHaveLength(1);
    expect(a.ips[0]).toMatch(/^10\.99\.0\.\d+$/);
    expect(await net.allocations()).toContain(a.ips[0]);
    // lo is up and eth0 carries the IP inside the pod
    const addrs = execFileSync("nsenter", [`--net=${netns}`, "ip", "-br", "addr"], { encoding: "utf8" });
    expect(addrs).toMatch(/^lo\s+UNKNOWN\s+127\.0\.0\.1\/8/m);
    expect(addrs).toContain(`${a.ips[0]}/24`);
    const server = await podServer(netns, 8080, "web");
    try {
      expect(await tcpRead(a.ips[0] as string, 8080)).toBe("hello from web");
      expect(await tcpRead("127.0.0.1", hostPort)).toBe("hello from web");
    } finally {
      server.kill();
    }
    expect(net.natRulesFor(id)).not.toBe("");
    // (no CHECK here: Debian's portmap fails CHECK of IPv4 mappings on a host with IPv6, looking
    // for an ip6tables chain it never created; CHECK is covered by the 0.4.0 test without mappings)
    // A retried setup answers the cached attachment, without a second allocation.
    const again = await cni.setup({ id, netnsPath: netns, pod: pod("web") });
    expect(again.ips).toEqual(a.ips);
    expect(await net.allocations()).toHaveLength((await net.allocations()).length);

    expect(await cni.teardown(id)).toBe(true);
    expect(await net.allocations()).not.toContain(a.ips[0]);
    expect(net.natRulesFor(id)).toBe("");
    expect(await cni.teardown(id)).toBe(false); // retried DEL: nothing left, no error
    await cni.removeNetns(id);
    await cni.removeNetns(id); // idempotent
    await expect(stat(netns)).rejects.toThrow(/ENOENT/);
  });

  it("DEL of a pod whose netns is already gone still releases the IP", async () => {
    const id = newId();
    const netns = await cni.createNetns(id);
    const a = await cni.setup({ id, netnsPath: netns, pod: pod("gone") });
    await cni.removeNetns(id);
    expect(await net.allocations()).toContain(a.ips[0]);
    expect(await cni.teardown(id)).toBe(true);
    expect(await net.allocations()).not.toContain(a.ips[0]);
  });

  it("a plugin's error JSON becomes an error naming the plugin and its message, and the partial ADD is undone", async () => {
    await net.writeConf("10-svntest.conflist", net.conflist("1.0.0", [{ type: "svn-fail" }]));
    await cni.watcher.rescan();
    const id = newId();
    const netns = await cni.createNetns(id);
    const before = await net.allocations();
    const err = await cni.setup({ id, netnsPath: netns, pod: pod("fail") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect((err as CniPluginError).message).toBe(
      'cni plugin "svn-fail" ADD failed: resource busy (try again) [cni error 11]',
    );
    expect((err as CniPluginError).code).toBe("Unavailable");
    expect(await net.allocations()).toEqual(before); // bridge's allocation was released by the undo
    expect(await cni.store.get(id)).toBeUndefined();
    await cni.removeNetns(id);
  });

  it("a real plugin's own error (bridge with an invalid subnet) names bridge and its message", async () => {
    const bad = net.conflist("1.0.0") as { plugins: Array<Record<string, unknown>> };
    bad.plugins[0] = {
      ...bad.plugins[0],
      ipam: { type: "host-local", ranges: [[{ subnet: "10.99.0.0/33" }]] },
    };
    await net.writeConf("10-svntest.conflist", bad);
    await cni.watcher.rescan();
    const id = newId();
    const netns = await cni.createNetns(id);
    const err = await cni.setup({ id, netnsPath: netns, pod: pod("bad") }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^cni plugin "bridge" ADD failed: .*10\.99\.0\.0\/33.* \[cni error \d+\]$/,
    );
    // The undo DEL fails the same way, so the record stays "deleting" for a later reconcile to
    // retry, as it must when a DEL fails; nothing was allocated, so the test drops it.
    expect((await cni.store.get(id))?.state).toBe("deleting");
    await cni.store.delete(id);
    await cni.removeNetns(id);
  });

  it("speaks CNI 0.4.0 (with CHECK) and 0.3.1 (no CHECK)", async () => {
    for (const version of ["0.4.0", "0.3.1"]) {
      await net.writeConf("10-svntest.conflist", net.conflist(version));
      await cni.watcher.rescan();
      expect(cni.status().network?.cniVersion).toBe(version);
      const id = newId();
      const netns = await cni.createNetns(id);
      const a = await cni.setup({ id, netnsPath: netns, pod: pod(`v${version}`) });
      expect(a.result.cniVersion).toBe(version);
      expect(a.ips[0]).toMatch(/^10\.99\.0\.\d+$/);
      expect(await cni.check(id)).toBe(version !== "0.3.1");
      expect(await cni.teardown(id)).toBe(true);
      expect(await net.allocations()).not.toContain(a.ips[0]);
      await cni.removeNetns(id);
    }
  });

  it("a .conf (single plugin) works as a one-plugin list", async () => {
    const { plugins } = net.conflist("1.0.0") as { plugins: object[] };
    await net.writeConf("05-single.conf", { cniVersion: "1.0.0", name: "svntest", ...plugins[0] });
    await cni.watcher.rescan();
    expect(cni.status().network).toMatchObject({
      plugins: ["bridge"],
      file: join(net.confDir, "05-single.conf"),
    });
    const id = newId();
    const netns = await cni.createNetns(id);
    const a = await cni.setup({ id, netnsPath: netns, pod: pod("single") });
    expect(a.ips[0]).toMatch(/^10\.99\.0\.\d+$/);
    // the config changes under the attachment: DEL uses the cached config it was added with
    await rm(join(net.confDir, "05-single.conf"));
    await cni.watcher.rescan();
    expect(await cni.teardown(id)).toBe(true);
    expect(await net.allocations()).not.toContain(a.ips[0]);
    await cni.removeNetns(id);
  });

  it("plugin timeout and abort kill the plugin, undo the ADD and say so", async () => {
    await net.writeConf("10-svntest.conflist", net.conflist("1.0.0", [{ type: "svn-hang" }]));
    await cni.watcher.rescan();
    const quick = new CniNetwork({
      confDir: net.confDir,
      cacheDir: net.cacheDir,
      netnsDir: net.netnsDir,
      binDirs: [binDir, PLUGIN_DIR],
      pluginTimeoutMs: 1000,
    });
    await quick.start();
    const id = newId();
    const netns = await quick.createNetns(id);
    const before = await net.allocations();
    await expect(quick.setup({ id, netnsPath: netns, pod: pod("slow") })).rejects.toThrow(
      'cni plugin "svn-hang" ADD: timed out after 1000 ms',
    );
    expect(await net.allocations()).toEqual(before);
    await rm(`/tmp/servin-cni-hang-${id}.pid`, { force: true });
    const ac = new AbortController();
    const pending = cni.setup({ id, netnsPath: netns, pod: pod("slow"), signal: ac.signal });
    await waitFor(
      async () => (await readFile(`/tmp/servin-cni-hang-${id}.pid`, "utf8").catch(() => "")) !== "",
    );
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: "Aborted", plugin: "svn-hang" });
    expect(await net.allocations()).toEqual(before);
    await rm(`/tmp/servin-cni-hang-${id}.pid`, { force: true });
    quick.close();
    await cni.removeNetns(id);
  });

  it("reconcile after servin is SIGKILLed mid-ADD releases the IP, the veth and the netns", async () => {
    await net.writeConf("10-svntest.conflist", net.conflist("1.0.0", [{ type: "svn-hang" }]));
    await cni.watcher.rescan();
    const id = newId();
    const before = await net.allocations();
    const child = spawn(
      process.execPath,
      [
        "--conditions=source",
        "--import",
        "tsx",
        join(import.meta.dirname, "fixtures/crash-child.ts"),
        net.confDir,
        net.cacheDir,
        net.netnsDir,
        [binDir, PLUGIN_DIR].join(":"),
        id,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const pidFile = `/tmp/servin-cni-hang-${id}.pid`;
    try {
      await waitFor(async () => (await readFile(pidFile, "utf8").catch(() => "")) !== "");
      expect((await net.allocations()).length).toBe(before.length + 1); // bridge+IPAM ADD done, portmap too
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    } finally {
      const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
      if (pid > 0) process.kill(pid, "SIGKILL"); // the orphaned plugin this test started
      await rm(pidFile, { force: true });
    }
    expect((await cni.store.get(id))?.state).toBe("adding");
    expect((await listNetns(net.netnsDir)).map((n) => n.id)).toContain(id);
    const hostVeths = () =>
      execFileSync("ip", ["-br", "link", "show", "master", "svntest0"], { encoding: "utf8" });
    const vethsBefore = hostVeths();

    // servin restarts: a fresh instance over the same directories
    const restarted = new CniNetwork({
      confDir: net.confDir,
      cacheDir: net.cacheDir,
      netnsDir: net.netnsDir,
      binDirs: [binDir, PLUGIN_DIR],
    });
    await restarted.start();
    const report = await restarted.reconcile([]);
    restarted.close();
    expect(report.failed).toEqual([]);
    expect(report.deleted).toContain(id);
    expect(report.netnsRemoved).toContain(id);
    expect(await net.allocations()).toEqual(before);
    expect(await restarted.store.get(id)).toBeUndefined();
    expect(net.natRulesFor(id)).toBe("");
    expect(hostVeths().split("\n").filter(Boolean).length).toBe(
      vethsBefore.split("\n").filter(Boolean).length - 1,
    );
  });

  it("reconcile keeps live pods, finishes an interrupted DEL and removes netns of pods that no longer exist", async () => {
    const live = newId();
    const dead = newId();
    const deleting = newId();
    const ips: Record<string, string> = {};
    for (const id of [live, dead, deleting]) {
      const netns = await cni.createNetns(id);
      ips[id] = (await cni.setup({ id, netnsPath: netns, pod: pod(id) })).ips[0] as string;
    }
    // A DEL interrupted by a crash: the record says deleting, the plugins had not run yet.
    const rec = await cni.store.get(deleting);
    await cni.store.put({ ...rec!, state: "deleting" });
    const orphanNetns = await cni.createNetns(newId()); // a netns with no attachment at all
    const report = await cni.reconcile([live, deleting]);
    expect(report.failed).toEqual([]);
    expect(report.deleted.sort()).toEqual([dead, deleting].sort());
    expect(report.netnsRemoved.sort()).toEqual([dead, orphanNetns.split("/").at(-1)].sort());
    const allocated = await net.allocations();
    expect(allocated).toContain(ips[live]);
    expect(allocated).not.toContain(ips[dead]);
    expect(allocated).not.toContain(ips[deleting]);
    expect((await cni.attachment(live))?.ips).toEqual([ips[live]]);
    expect(await cni.teardown(live)).toBe(true);
    for (const id of [live, deleting]) await cni.removeNetns(id);
  });

  it("setup without a network config is a clear FailedPrecondition", async () => {
    await writeFile(join(net.confDir, "00-broken.conflist"), "{ not json");
    await cni.watcher.rescan();
    expect(cni.status()).toMatchObject({ ready: false, reason: "NetworkPluginNotReady" });
    expect(cni.status().message).toContain(join(net.confDir, "00-broken.conflist"));
    const id = newId();
    await expect(cni.setup({ id, netnsPath: "/nonexistent", pod: pod("x") })).rejects.toMatchObject({
      code: "FailedPrecondition",
    });
    await rm(join(net.confDir, "00-broken.conflist"));
    await cni.watcher.rescan();
    expect(cni.status().ready).toBe(true);
  });
});

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met in 15 s");
}
