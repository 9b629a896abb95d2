import { isCriError } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { checkContainerPaths, checkSandboxPaths } from "./_paths.js";

const container = { metadata: { name: "c" }, image: { image: "busybox" } };

function issuesOf(fn: () => void): string[] {
  try {
    fn();
    return [];
  } catch (err) {
    if (!isCriError(err) || err.code !== "InvalidArgument") throw err;
    return (err.details as { fields: Array<{ path: string }> }).fields.map((f) => f.path);
  }
}

describe("path rules", () => {
  it("accepts what kubelet sends", () => {
    expect(
      issuesOf(() =>
        checkSandboxPaths({
          metadata: { name: "p" },
          logDirectory: "/var/log/pods/ns_p_uid",
          linux: { cgroupParent: "/kubepods/burstable/pod1" },
        }),
      ),
    ).toEqual([]);
    expect(
      issuesOf(() =>
        checkContainerPaths({
          ...container,
          logPath: "app/0.log",
          mounts: [{ containerPath: "/data", hostPath: "/var/lib/kubelet/pods/x/volumes/v" }],
          devices: [{ containerPath: "/dev/fuse", hostPath: "/dev/fuse", permissions: "rwm" }],
        }),
      ),
    ).toEqual([]);
  });

  it("refuses a log_path that escapes the log directory or is absolute", () => {
    expect(issuesOf(() => checkContainerPaths({ ...container, logPath: "../../../etc/evil.log" }))).toEqual([
      "config.log_path",
    ]);
    expect(issuesOf(() => checkContainerPaths({ ...container, logPath: "a/../../b.log" }))).toEqual([
      "config.log_path",
    ]);
    expect(issuesOf(() => checkContainerPaths({ ...container, logPath: "/etc/passwd" }))).toEqual([
      "config.log_path",
    ]);
    expect(issuesOf(() => checkContainerPaths({ ...container, logPath: "a/../b.log" }))).toEqual([]);
  });

  it("refuses relative log directories, climbing cgroup parents, relative mounts and devices, naming each", () => {
    expect(issuesOf(() => checkSandboxPaths({ metadata: { name: "p" }, logDirectory: "logs" }))).toEqual([
      "config.log_directory",
    ]);
    expect(
      issuesOf(() =>
        checkSandboxPaths({ metadata: { name: "p" }, linux: { cgroupParent: "/kubepods/../../etc" } }),
      ),
    ).toEqual(["config.linux.cgroup_parent"]);
    expect(
      issuesOf(() =>
        checkContainerPaths({
          ...container,
          mounts: [{ containerPath: "data", hostPath: "rel/dir" }],
          devices: [{ containerPath: "dev/x", hostPath: "/dev/null\0", permissions: "r" }],
        }),
      ),
    ).toEqual([
      "config.mounts.0.container_path",
      "config.mounts.0.host_path",
      "config.devices.0.container_path",
      "config.devices.0.host_path",
    ]);
  });
});
