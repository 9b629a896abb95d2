/**
 * Path rules for CRI configs, checked before anything is reserved or made:
 * the backend acts on these paths as root, so a `log_path` with `..`, a
 * relative mount source or a cgroup parent that climbs out of the hierarchy
 * must be refused here, with the field named, not discovered by conmon or mkdir.
 */
import { isAbsolute, normalize } from "node:path";
import type { ContainerConfig, FieldIssue, PodSandboxConfig } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";

const hasNul = (p: string) => p.includes("\0");
const climbs = (p: string) => p.split("/").includes("..");

function fail(issues: FieldIssue[]): never {
  throw CriError.invalidArgument(issues.map((i) => `${i.path}: ${i.message}`).join("; "), issues);
}

/** RunPodSandbox: log_directory absolute; cgroup_parent without `..`. */
export function checkSandboxPaths(config: PodSandboxConfig): void {
  const issues: FieldIssue[] = [];
  const logDirectory = config.logDirectory;
  if (logDirectory && (!isAbsolute(logDirectory) || hasNul(logDirectory))) {
    issues.push({
      path: "config.log_directory",
      message: `expected an absolute path, got "${logDirectory}"`,
    });
  }
  const cgroupParent = config.linux?.cgroupParent;
  if (cgroupParent && (climbs(cgroupParent) || hasNul(cgroupParent))) {
    issues.push({
      path: "config.linux.cgroup_parent",
      message: `must not contain "..", got "${cgroupParent}"`,
    });
  }
  if (issues.length > 0) fail(issues);
}

/** CreateContainer: log_path relative and inside the log directory; mount and device paths absolute. */
export function checkContainerPaths(config: ContainerConfig): void {
  const issues: FieldIssue[] = [];
  const logPath = config.logPath;
  if (logPath && (isAbsolute(logPath) || hasNul(logPath) || climbs(normalize(logPath)))) {
    issues.push({
      path: "config.log_path",
      message: `expected a path relative to the pod's log_directory that stays inside it, got "${logPath}"`,
    });
  }
  (config.mounts ?? []).forEach((mount, i) => {
    if (!isAbsolute(mount.containerPath) || hasNul(mount.containerPath))
      issues.push({
        path: `config.mounts.${i}.container_path`,
        message: `expected an absolute path, got "${mount.containerPath}"`,
      });
    // An image volume mount has no host path.
    if (!mount.image && (!isAbsolute(mount.hostPath) || hasNul(mount.hostPath)))
      issues.push({
        path: `config.mounts.${i}.host_path`,
        message: `expected an absolute path, got "${mount.hostPath}"`,
      });
  });
  (config.devices ?? []).forEach((device, i) => {
    if (!isAbsolute(device.containerPath) || hasNul(device.containerPath))
      issues.push({
        path: `config.devices.${i}.container_path`,
        message: `expected an absolute path, got "${device.containerPath}"`,
      });
    if (!isAbsolute(device.hostPath) || hasNul(device.hostPath))
      issues.push({
        path: `config.devices.${i}.host_path`,
        message: `expected an absolute path, got "${device.hostPath}"`,
      });
  });
  if (issues.length > 0) fail(issues);
}
