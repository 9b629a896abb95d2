/** Real pods on this host: shared namespaces, pod files, exits, logs, exec, stop, mounts, users, stats. */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
  });
});
