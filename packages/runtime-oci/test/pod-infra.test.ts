/** The pod infra without conmon and runc: catatonit started directly in the pod's namespaces and cgroup. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CriError } from "@servin/cri-types";
import type { ContainerRecord, SandboxRecord } from "@servin/runtime-core";
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
const text = (b: Uint8Array) => Buffer.from(b).toString();

/** A field of /proc/<pid>/status. */
function status(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return (line ?? "").slice(field.length + 1).trim();
}

/** True when `pid` is gone or a zombie (this host's PID 1 may not reap orphans). */
function gone(pid: number): boolean {
  let stat = "";
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {}
  return stat === "" || stat.charAt(stat.lastIndexOf(")") + 2) === "Z";
}

/** Live (non-zombie) conmon processes naming `id`. */
function conmonsOf(id: string): string[] {
  return execFileSync("ps", ["-eo", "stat,args"])
    .toString()
    .split("\n")
    .filter((l) => l.includes("conmon") && l.includes(id) && !l.trim().startsWith("Z"));
}

describe.skipIf(!real.ok)(
  "oci backend: the pod infra started directly (real catatonit, runc containers)",
  () => {
    let h: Harness;
    const pods: SandboxRecord[] = [];

    const pod = async (config: Parameters<typeof sandboxRecord>[0] = {}) => {
      const s = await runPod(h.backend, sandboxRecord(config, h.logDir));
      pods.push(s);
      return s;
    };
    const pidOf = (s: SandboxRecord) => (s.backendState as { pid: number }).pid;
    /** One container per pod, removed at the end. */
    const ctrs = new Map<string, ContainerRecord>();
    const exec = async (s: SandboxRecord, cmd: string[]) => {
      let c = ctrs.get(s.id);
      if (!c) {
        c = await createAndStart(h.backend, containerRecord(s, h.image, { command: ["sleep", "3600"] }), s);
        ctrs.set(s.id, c);
      }
      return text((await h.backend.execSync(c, cmd, 10)).stdout);
    };

    beforeAll(async () => {
      h = await createHarness({ podInfra: "process" });
    });

    afterAll(async () => {
      if (!h) return;
      for (const c of ctrs.values())
        await h.backend.removeContainer(
          c,
          pods.find((p) => p.id === c.sandboxId),
        );
      for (const s of pods) {
        await h.backend.stopSandbox(s).catch(() => {});
        await h.backend.removeSandbox(s).catch(() => {});
      }
      await h.backend.close();
      expect(await leaks(h)).toEqual([]);
      destroyHarnessDirs(h);
    });

    it("runs catatonit as PID 1 of the pod, without conmon, capabilities or new privileges, in the pod's cgroup", async () => {
      const s = await pod({
        hostname: "infra-host",
        linux: { sysctls: { "kernel.shm_rmid_forced": "1", "net.ipv4.ip_unprivileged_port_start": "80" } },
      });
      const pid = pidOf(s);
      expect((s.backendState as { infra?: string }).infra).toBe("process");
      expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("catatonit");
      expect(status(pid, "NSpid").split(/\s+/).at(-1)).toBe("1");
      expect(status(pid, "CapEff")).toBe("0000000000000000");
      expect(status(pid, "CapBnd")).toBe("0000000000000000");
      expect(status(pid, "NoNewPrivs")).toBe("1");
      expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toContain(`/${h.cgroupParent}/pod-${s.id}/${s.id}`);
      expect(conmonsOf(s.id)).toEqual([]);
      expect((await h.backend.inspectSandbox(s)).ready).toBe(true);
      // Containers join its namespaces: the hostname, the sysctls (IPC and network), PID 1, loopback up.
      expect(await exec(s, ["hostname"])).toBe("infra-host\n");
      expect(await exec(s, ["cat", "/proc/sys/kernel/shm_rmid_forced"])).toBe("1\n");
      expect(await exec(s, ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"])).toBe("80\n");
      expect(await exec(s, ["cat", "/proc/1/cmdline"])).toMatch(/catatonit\0-P\0$/);
      expect(await exec(s, ["cat", "/sys/class/net/lo/operstate"])).toMatch(/^(unknown|up)\n$/);
      // The launch mounted the pod's /dev/shm: a 64 MiB tmpfs, nosuid,nodev,noexec, the containers' /dev/shm.
      const shm = (s.backendState as { shmPath: string }).shmPath;
      const line = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .find((l) => l.split(" ")[4] === shm);
      expect(line).toMatch(/ rw,nosuid,nodev,noexec\S* - tmpfs shm rw,size=65536k/);
      await exec(s, ["sh", "-c", "echo shared > /dev/shm/mark"]);
      expect(readFileSync(join(shm, "mark"), "utf8")).toBe("shared\n");
      // Pod stats read the pod cgroup, which holds the infra too.
      expect((await h.backend.sandboxStats(s)).process?.processCount?.value).toBeGreaterThan(0);
    });

    it("runs a pod in the host's PID, IPC and network namespaces with a sleeper in the host's PID namespace", async () => {
      const s = await pod({
        linux: { securityContext: { namespaceOptions: { network: "NODE", ipc: "NODE", pid: "NODE" } } },
      });
      const pid = pidOf(s);
      expect(status(pid, "NSpid")).toBe(String(pid));
      for (const ns of ["net", "ipc", "uts", "pid"])
        expect(execFileSync("readlink", [`/proc/${pid}/ns/${ns}`]).toString()).toBe(
          execFileSync("readlink", [`/proc/self/ns/${ns}`]).toString(),
        );
      expect((await h.backend.inspectSandbox(s)).ready).toBe(true);
    });

    it("refuses sysctls that are not namespaced, or whose namespace the pod shares with the host, leaving nothing", async () => {
      const before = await leaks(h);
      const cases: [Record<string, string>, object, string][] = [
        [{ "kernel.panic": "1" }, {}, 'sysctl "kernel.panic": not allowed'],
        [{ "net/../../../etc/x": "1" }, {}, "not a valid sysctl name"],
        [{ "net.ipv4.ip_forward": "1" }, { network: "NODE" }, "shares the host's network namespace"],
        [{ "kernel.shm_rmid_forced": "1" }, { ipc: "NODE" }, "shares the host's ipc namespace"],
      ];
      for (const [sysctls, namespaceOptions, message] of cases) {
        const err = (await h.backend
          .runSandbox(sandboxRecord({ linux: { sysctls, securityContext: { namespaceOptions } } }, h.logDir))
          .catch((e: unknown) => e)) as CriError;
        expect(err.code).toBe("InvalidArgument");
        expect(err.message).toContain(message);
      }
      // A value the kernel refuses fails the run with the kernel's reason, and undoes it.
      const bad = sandboxRecord({ linux: { sysctls: { "kernel.shm_rmid_forced": "nope" } } }, h.logDir);
      const err = (await h.backend.runSandbox(bad).catch((e: unknown) => e)) as CriError;
      expect(err.message).toContain("kernel/shm_rmid_forced");
      expect(await leaks(h)).toEqual(before);
    });

    it("says NotReady once the infra is killed, refuses containers, and stops and removes the pod to nothing", async () => {
      const before = await leaks(h);
      const s = await runPod(h.backend, sandboxRecord({}, h.logDir));
      process.kill(pidOf(s), "SIGKILL");
      for (let i = 0; i < 200 && (await h.backend.inspectSandbox(s)).ready; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect((await h.backend.inspectSandbox(s)).ready).toBe(false);
      const err = (await h.backend
        .createContainer(containerRecord(s, h.image, { command: ["true"] }), s)
        .catch((e: unknown) => e)) as CriError;
      expect(err.code).toBe("FailedPrecondition");
      await h.backend.stopSandbox(s);
      await h.backend.removeSandbox(s);
      expect(await leaks(h)).toEqual(before);
    });

    it("keeps the infra across a restart of the backend, which adopts it; Stop then kills it", async () => {
      const s = await pod({});
      const pid = pidOf(s);
      await h.reopen();
      expect((await h.backend.inspectSandbox(s)).ready).toBe(true);
      expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("catatonit");
      await h.backend.stopSandbox(s);
      expect((await h.backend.inspectSandbox(s)).ready).toBe(false);
      expect(gone(pid)).toBe(true);
    });

    it("finds and kills the infra of a pod whose run never returned (no pid recorded) on its removal", async () => {
      const before = await leaks(h);
      const s = await runPod(h.backend, sandboxRecord({}, h.logDir));
      const pid = pidOf(s);
      // What the core holds after a crash mid-Run: the record without the backend's state.
      const cut = { ...s, backendState: {} };
      await h.backend.stopSandbox(cut);
      await h.backend.removeSandbox(cut);
      expect(gone(pid)).toBe(true);
      expect(await leaks(h)).toEqual(before);
    });
  },
);
