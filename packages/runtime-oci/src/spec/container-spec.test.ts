import { describe, expect, it } from "vitest";
import {
  buildContainerSpec,
  type ContainerSpecInput,
  criMounts,
  resolveCapabilities,
} from "./container-spec.js";
import { DEFAULT_CAPABILITIES } from "./defaults.js";
import { podNamespaceModes } from "./namespaces.js";
import { clampOomScoreAdj, toOciResources } from "./resources.js";
import { buildSandboxSpec } from "./sandbox-spec.js";

const pod = { metadata: { name: "p" } };
const base = (over: Partial<ContainerSpecInput> = {}): ContainerSpecInput => ({
  id: "c1",
  sandboxId: "s1",
  config: { metadata: { name: "web" }, image: { image: "busybox" }, command: ["sleep", "1"] },
  image: { env: ["PATH=/bin"] },
  rootfs: "/run/b/c1/rootfs",
  user: { uid: 0, gid: 0, additionalGids: [0] },
  podModes: podNamespaceModes(pod),
  join: { network: "/proc/9/ns/net", ipc: "/proc/9/ns/ipc", uts: "/proc/9/ns/uts", pid: "/proc/9/ns/pid" },
  hostname: "p",
  podFiles: { hosts: "/h", resolvConf: "/r", hostname: "/n" },
  shmPath: "/run/s/shm",
  cgroupsPath: "/servin/pod-s1/c1",
  cgroupMode: "v1",
  devices: [],
  ...over,
});

describe("buildContainerSpec", () => {
  it("joins the pod's namespaces, PID included when the config says nothing (POD is the proto's zero value)", () => {
    const spec = buildContainerSpec(base());
    expect(spec.linux.namespaces).toEqual([
      { type: "mount" },
      { type: "network", path: "/proc/9/ns/net" },
      { type: "ipc", path: "/proc/9/ns/ipc" },
      { type: "uts", path: "/proc/9/ns/uts" },
      { type: "pid", path: "/proc/9/ns/pid" },
    ]);
    expect(spec.hostname).toBeUndefined(); // runc refuses a hostname in a joined UTS namespace
  });
  it("keeps a private PID namespace for pid=CONTAINER", () => {
    const own = {
      metadata: { name: "p" },
      linux: { securityContext: { namespaceOptions: { pid: "CONTAINER" as const } } },
    };
    const spec = buildContainerSpec(
      base({ podModes: podNamespaceModes(own), join: { network: "/proc/9/ns/net" } }),
    );
    expect(spec.linux.namespaces).toContainEqual({ type: "pid" });
    const config = {
      ...base().config,
      linux: { securityContext: { namespaceOptions: { pid: "CONTAINER" as const } } },
    };
    expect(buildContainerSpec(base({ config })).linux.namespaces).toContainEqual({ type: "pid" });
  });
  it("shares the infra's PID namespace for pid=POD and stays on the host for NODE", () => {
    const podPid = {
      metadata: { name: "p" },
      linux: { securityContext: { namespaceOptions: { pid: "POD" as const } } },
    };
    const spec = buildContainerSpec(base({ podModes: podNamespaceModes(podPid) }));
    expect(spec.linux.namespaces).toContainEqual({ type: "pid", path: "/proc/9/ns/pid" });
    const host = {
      metadata: { name: "p" },
      linux: {
        securityContext: {
          namespaceOptions: { network: "NODE" as const, ipc: "NODE" as const, pid: "NODE" as const },
        },
      },
    };
    const hs = buildContainerSpec(base({ podModes: podNamespaceModes(host) }));
    expect(hs.linux.namespaces).toEqual([{ type: "mount" }]);
    // A fresh mqueue mount even in the host's IPC namespace: the host may have no /dev/mqueue.
    expect(hs.mounts.find((m) => m.destination === "/dev/mqueue")).toMatchObject({
      type: "mqueue",
      source: "mqueue",
    });
  });
  it("targets another container's PID namespace for TARGET, or refuses when it is not running", () => {
    const config = {
      ...base().config,
      linux: { securityContext: { namespaceOptions: { pid: "TARGET" as const, targetId: "t" } } },
    };
    expect(
      buildContainerSpec(base({ config, join: { targetPid: "/proc/7/ns/pid" } })).linux.namespaces,
    ).toContainEqual({
      type: "pid",
      path: "/proc/7/ns/pid",
    });
    expect(() => buildContainerSpec(base({ config, join: {} }))).toThrow(/target "t" is not running/);
  });
  it("mounts the pod's files, shm and the CRI mounts with their propagation", () => {
    const config = {
      ...base().config,
      mounts: [
        { containerPath: "/data/sub", hostPath: "/h/sub", propagation: "PROPAGATION_BIDIRECTIONAL" as const },
        {
          containerPath: "/data",
          hostPath: "/h",
          readonly: true,
          propagation: "PROPAGATION_HOST_TO_CONTAINER" as const,
        },
        { containerPath: "/etc/hosts", hostPath: "/my/hosts" },
      ],
    };
    const spec = buildContainerSpec(base({ config }));
    const dests = spec.mounts.map((m) => m.destination);
    expect(dests.indexOf("/data")).toBeLessThan(dests.indexOf("/data/sub"));
    expect(spec.mounts.find((m) => m.destination === "/data")?.options).toEqual(["rbind", "rslave", "ro"]);
    expect(spec.mounts.find((m) => m.destination === "/data/sub")?.options).toEqual([
      "rbind",
      "rshared",
      "rw",
    ]);
    expect(spec.mounts.filter((m) => m.destination === "/etc/hosts")).toEqual([
      { destination: "/etc/hosts", type: "bind", source: "/my/hosts", options: ["rbind", "rprivate", "rw"] },
    ]);
    expect(spec.mounts.find((m) => m.destination === "/etc/resolv.conf")?.source).toBe("/r");
    expect(spec.mounts.find((m) => m.destination === "/dev/shm")?.source).toBe("/run/s/shm");
    expect(spec.linux.rootfsPropagation).toBe("rshared");
  });
  it("privileged: all capabilities, no masked paths, all devices, rw sysfs", () => {
    const config = { ...base().config, linux: { securityContext: { privileged: true } } };
    const spec = buildContainerSpec(base({ config }));
    expect(spec.process.capabilities?.bounding).toContain("CAP_SYS_ADMIN");
    expect(spec.linux.maskedPaths).toEqual([]);
    expect(spec.linux.resources?.devices).toEqual([{ allow: true, access: "rwm" }]);
    expect(spec.mounts.find((m) => m.destination === "/sys")?.options).toContain("rw");
  });
  it("maps resources, clamps oom_score_adj at 0, and sets read-only rootfs and no_new_privs", () => {
    const config = {
      ...base().config,
      linux: {
        resources: {
          cpuShares: 512,
          cpuQuota: 50_000,
          cpuPeriod: 100_000,
          memoryLimitInBytes: 1 << 26,
          oomScoreAdj: -998,
        },
        securityContext: { readonlyRootfs: true, noNewPrivs: true },
      },
    };
    const spec = buildContainerSpec(base({ config }));
    expect(spec.linux.resources?.cpu).toEqual({ shares: 512, quota: 50_000, period: 100_000 });
    expect(spec.linux.resources?.memory).toEqual({ limit: 1 << 26 });
    expect(spec.process.oomScoreAdj).toBe(0);
    expect(spec.root.readonly).toBe(true);
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.mounts.find((m) => m.destination === "/etc/hosts")?.options).toContain("ro");
  });
  it("allows CRI devices in the device cgroup", () => {
    const spec = buildContainerSpec(
      base({
        devices: [
          {
            type: "c",
            path: "/dev/fuse",
            major: 10,
            minor: 229,
            fileMode: 0o666,
            uid: 0,
            gid: 0,
            permissions: "rw",
          },
        ],
      }),
    );
    expect(spec.linux.devices).toEqual([
      { type: "c", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
    ]);
    expect(spec.linux.resources?.devices).toContainEqual({
      allow: true,
      type: "c",
      major: 10,
      minor: 229,
      access: "rw",
    });
  });
});

describe("resolveCapabilities", () => {
  it("starts from containerd's default set", () => {
    expect(resolveCapabilities(undefined, false)).toEqual([...DEFAULT_CAPABILITIES]);
  });
  it("adds and drops, with or without the CAP_ prefix, and handles ALL", () => {
    const caps = resolveCapabilities(
      { addCapabilities: ["net_admin"], dropCapabilities: ["CAP_KILL"] },
      false,
    );
    expect(caps).toContain("CAP_NET_ADMIN");
    expect(caps).not.toContain("CAP_KILL");
    expect(resolveCapabilities({ dropCapabilities: ["ALL"], addCapabilities: ["CHOWN"] }, false)).toEqual([
      "CAP_CHOWN",
    ]);
    expect(resolveCapabilities({ addCapabilities: ["ALL"] }, false)).toContain("CAP_SYS_ADMIN");
  });
});

describe("criMounts", () => {
  it("needs no rootfs propagation for private mounts", () => {
    expect(criMounts([{ containerPath: "/a", hostPath: "/b" }]).rootfsPropagation).toBeUndefined();
  });
});

describe("resources", () => {
  it("leaves zero (unset) values out and drops unified on v1", () => {
    expect(
      toOciResources({ cpuShares: 0, memoryLimitInBytes: 0, unified: { "memory.high": "1" } }, "hybrid"),
    ).toEqual({});
    expect(toOciResources({ unified: { "memory.high": "1" } }, "v2")).toEqual({
      unified: { "memory.high": "1" },
    });
  });
  it("clamps oom_score_adj to [0, 1000]", () => {
    expect(clampOomScoreAdj(-1000)).toBe(0);
    expect(clampOomScoreAdj(1500)).toBe(1000);
    expect(clampOomScoreAdj(undefined)).toBeUndefined();
  });
});

describe("buildSandboxSpec", () => {
  it("runs catatonit -P read-only in new namespaces with the pod's hostname and sysctls", () => {
    const config = { metadata: { name: "p" }, linux: { sysctls: { "net.core.somaxconn": "1024" } } };
    const spec = buildSandboxSpec({
      id: "s1",
      config,
      modes: podNamespaceModes(config),
      pausePath: "/usr/bin/catatonit",
      hostname: "web",
      cgroupsPath: "/servin/pod-s1/s1",
    });
    expect(spec.process.args).toEqual(["/pause", "-P"]);
    expect(spec.root.readonly).toBe(true);
    expect(spec.hostname).toBe("web");
    expect(spec.linux.sysctl).toEqual({ "net.core.somaxconn": "1024" });
    expect(spec.linux.namespaces.map((n) => n.type).sort()).toEqual([
      "ipc",
      "mount",
      "network",
      "pid",
      "uts",
    ]);
    expect(spec.mounts).toContainEqual({
      destination: "/pause",
      type: "bind",
      source: "/usr/bin/catatonit",
      options: ["bind", "ro", "rprivate"],
    });
  });
  it("uses the host's network (and UTS) namespace for a host-network pod", () => {
    const config = {
      metadata: { name: "p" },
      linux: { securityContext: { namespaceOptions: { network: "NODE" as const } } },
    };
    const spec = buildSandboxSpec({
      id: "s",
      config,
      modes: podNamespaceModes(config),
      pausePath: "/p",
      hostname: "h",
      cgroupsPath: "/x",
    });
    expect(spec.linux.namespaces.map((n) => n.type)).not.toContain("network");
    expect(spec.hostname).toBeUndefined();
  });
});
