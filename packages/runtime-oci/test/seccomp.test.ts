/** Seccomp on real containers (runc + conmon): RuntimeDefault, Unconfined, privileged, Localhost, the pod's infra. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ContainerConfig } from "@servin/cri-types";
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
type Security = NonNullable<NonNullable<ContainerConfig["linux"]>["securityContext"]>;

describe.skipIf(!real.ok)("oci backend: seccomp (real runc + conmon)", () => {
  let h: Harness;
  const pods: SandboxRecord[] = [];
  const containers: ContainerRecord[] = [];

  const pod = async (config: Parameters<typeof sandboxRecord>[0] = {}) => {
    const s = await runPod(h.backend, sandboxRecord(config, h.logDir));
    pods.push(s);
    return s;
  };
  const ctr = async (s: SandboxRecord, securityContext: Security) => {
    const c = containerRecord(s, h.image, {
      command: ["sleep", "3600"],
      linux: { securityContext },
    });
    containers.push(c);
    return createAndStart(h.backend, c, s);
  };
  const sh = async (c: ContainerRecord, script: string) => {
    const r = await h.backend.execSync(c, ["sh", "-c", script], 10);
    return { code: r.exitCode, out: text(r.stdout) + text(r.stderr) };
  };
  /** The Seccomp: line of the exec'd process: 0 = none, 2 = filter mode. */
  const mode = async (c: ContainerRecord) =>
    (await sh(c, "grep '^Seccomp:' /proc/self/status")).out.replace(/\s+/g, " ").trim();
  const specOf = (c: ContainerRecord) =>
    JSON.parse(readFileSync(join(h.stateDir, "bundles", c.id, "config.json"), "utf8"));

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(async () => {
    if (!h) return;
    for (const c of containers) await h.backend.removeContainer(c, undefined).catch(() => {});
    for (const s of pods) await h.backend.removeSandbox(s).catch(() => {});
    await h.backend.close();
    destroyHarnessDirs(h);
  });

  it("RuntimeDefault filters syscalls (EPERM) while normal commands work; the pod's infra is filtered too", async () => {
    const s = await pod({ linux: { securityContext: { seccomp: { profileType: "RuntimeDefault" } } } });
    const c = await ctr(s, { seccomp: { profileType: "RuntimeDefault" } });
    expect(await mode(c)).toBe("Seccomp: 2");
    // A user namespace needs no capability: only the filter stops it.
    const userns = await sh(c, "unshare -U true");
    expect(userns.code).not.toBe(0);
    expect(userns.out).toMatch(/Operation not permitted/);
    const normal = await sh(
      c,
      "mkdir /tmp/d && echo ok > /tmp/d/f && cat /tmp/d/f && ls / >/dev/null && id -u",
    );
    expect(normal).toEqual({ code: 0, out: "ok\n0\n" });
    const spec = specOf(c);
    expect(spec.linux.seccomp).toMatchObject({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1 });
    expect(c.backendState.seccomp).toBe("runtime/default");
    // The infra (catatonit) runs under the pod's profile.
    const obs = await h.backend.inspectSandbox(s);
    expect(obs.info?.seccomp).toBe("runtime/default");
    const infra = readFileSync(`/proc/${obs.info?.pid}/status`, "utf8");
    expect(infra).toMatch(/^Seccomp:\s+2$/m);
  });

  it("the deprecated seccomp_profile_path runtime/default works the same", async () => {
    const s = await pod();
    const c = await ctr(s, { seccompProfilePath: "runtime/default" });
    expect(await mode(c)).toBe("Seccomp: 2");
    expect((await sh(c, "unshare -U true")).code).not.toBe(0);
  });

  it("no profile (kubelet sent none), Unconfined and privileged run without a filter", async () => {
    const s = await pod();
    const obs = await h.backend.inspectSandbox(s);
    expect(readFileSync(`/proc/${obs.info?.pid}/status`, "utf8")).toMatch(/^Seccomp:\s+0$/m);
    const none = await ctr(s, {});
    const unconfined = await ctr(s, { seccomp: { profileType: "Unconfined" } });
    const privileged = await ctr(s, { privileged: true, seccomp: { profileType: "RuntimeDefault" } });
    for (const c of [none, unconfined, privileged]) {
      expect(await mode(c)).toBe("Seccomp: 0");
      // The same command RuntimeDefault refuses succeeds without the filter.
      expect(await sh(c, "unshare -U true")).toEqual({ code: 0, out: "" });
      expect(specOf(c).linux.seccomp).toBeUndefined();
    }
    expect(none.backendState.seccomp).toBe("unconfined");
    expect(privileged.backendState.seccomp).toBe("unconfined (privileged)");
  });

  it("RuntimeDefault follows the capabilities: CAP_SYS_ADMIN unlocks mount, its absence keeps it denied", async () => {
    const s = await pod();
    const admin = await ctr(s, {
      seccomp: { profileType: "RuntimeDefault" },
      capabilities: { addCapabilities: ["SYS_ADMIN"] },
    });
    expect(await mode(admin)).toBe("Seccomp: 2");
    expect(await sh(admin, "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted")).toEqual({
      code: 0,
      out: "mounted\n",
    });
    const plain = await ctr(s, { seccomp: { profileType: "RuntimeDefault" } });
    const denied = await sh(plain, "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t");
    expect(denied.code).not.toBe(0);
    expect(denied.out).toMatch(/Operation not permitted|permission denied/i);
  });

  it("a Localhost profile denying mkdir makes mkdir fail and leaves the rest alone", async () => {
    const profile = join(h.dir, "deny-mkdir.json");
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
      }),
    );
    const s = await pod();
    const c = await ctr(s, { seccomp: { profileType: "Localhost", localhostRef: profile } });
    expect(await mode(c)).toBe("Seccomp: 2");
    const r = await sh(c, "mkdir /tmp/x");
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/Operation not permitted/);
    expect(await sh(c, "touch /tmp/y && echo ok")).toEqual({ code: 0, out: "ok\n" });
    expect(c.backendState.seccomp).toBe(`localhost/${profile}`);
  });

  it("refuses a missing or relative Localhost profile clearly, before making anything", async () => {
    const s = await pod();
    const missing = containerRecord(s, h.image, {
      command: ["true"],
      linux: {
        securityContext: { seccomp: { profileType: "Localhost", localhostRef: "/nonexistent/p.json" } },
      },
    });
    await expect(h.backend.createContainer(missing, s)).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining('"/nonexistent/p.json" does not exist'),
    });
    const relative = containerRecord(s, h.image, {
      command: ["true"],
      linux: { securityContext: { seccompProfilePath: "localhost/p.json" } },
    });
    await expect(h.backend.createContainer(relative, s)).rejects.toMatchObject({
      code: "InvalidArgument",
      message: expect.stringContaining('"p.json" must be an absolute path'),
    });
  });

  it("leaves nothing behind once every pod is removed", async () => {
    for (const c of containers) await h.backend.removeContainer(c, undefined);
    for (const s of pods) await h.backend.stopSandbox(s);
    for (const s of pods) await h.backend.removeSandbox(s);
    expect(await leaks(h)).toEqual([]);
  });
});
