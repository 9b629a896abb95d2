/**
 * Rules on CRI configs that the kernel or the OCI runtime would otherwise
 * enforce late and obscurely (a `sethostname: invalid argument` from runc), or
 * that kubelet and containerd enforce and we must match: checked before
 * anything is reserved or made, with the field named.
 */
import type { ContainerConfig, PodSandboxConfig } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";

/** The kernel's HOST_NAME_MAX: sethostname(2) refuses anything longer. */
export const HOSTNAME_MAX_BYTES = 64;

/** RFC 1123 host name labels: letters, digits and inner hyphens, 1 to 63 characters each. */
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Why `hostname` cannot be a pod's hostname, or undefined when it can.
 *
 * @example
 * hostnameProblem("web-0"); // undefined
 * hostnameProblem("a_b");   // 'must be an RFC 1123 host name (letters, digits, "-" and "."), got "a_b"'
 */
export function hostnameProblem(hostname: string): string | undefined {
  const bytes = Buffer.byteLength(hostname);
  if (bytes > HOSTNAME_MAX_BYTES) {
    return `must be at most ${HOSTNAME_MAX_BYTES} bytes (the kernel's limit), got ${bytes}`;
  }
  if (!hostname.split(".").every((label) => LABEL.test(label))) {
    return `must be an RFC 1123 host name (letters, digits, "-" and "."), got ${JSON.stringify(hostname)}`;
  }
  return undefined;
}

/**
 * RunPodSandbox: an explicit hostname the kernel will take (an empty one means
 * the node's, as containerd and CRI-O do), and no run_as_group without run_as_user.
 */
export function checkSandboxConfig(config: PodSandboxConfig): void {
  if (config.hostname) {
    const problem = hostnameProblem(config.hostname);
    if (problem) {
      throw CriError.invalidArgument(`config.hostname: ${problem}`, [
        { path: "config.hostname", message: problem },
      ]);
    }
  }
  const security = config.linux?.securityContext;
  if (isSet(security?.runAsGroup) && !isSet(security?.runAsUser)) {
    runAsGroupWithoutUser(security?.runAsGroup?.value, "run_as_user");
  }
}

/** CreateContainer: run_as_group only together with run_as_user or run_as_username (kubelet's and containerd's rule). */
export function checkContainerConfig(config: ContainerConfig): void {
  const security = config.linux?.securityContext;
  if (isSet(security?.runAsGroup) && !isSet(security?.runAsUser) && !security?.runAsUsername) {
    runAsGroupWithoutUser(security?.runAsGroup?.value, "run_as_user or run_as_username");
  }
}

function isSet<T>(value: T | null | undefined): value is T {
  return value !== undefined && value !== null;
}

function runAsGroupWithoutUser(gid: number | undefined, users: string): never {
  const path = "config.linux.security_context.run_as_group";
  const message = `group ${gid} is set without ${users}`;
  throw CriError.invalidArgument(`${path}: ${message}`, [{ path, message }]);
}
