/** The OCI spec of a pod's infra container: catatonit -P holding the pod's namespaces in an empty root. */
import type { PodSandboxConfig } from "@servin/cri-types";
import { defaultRlimits } from "./defaults.js";
import { type PodNamespaceModes, sandboxNamespaces } from "./namespaces.js";
import { type SeccompHost, type SeccompProfileFile, seccompForSpec } from "./seccomp.js";
import type { OciSpec } from "./types.js";

export interface SandboxSpecInput {
  id: string;
  config: PodSandboxConfig;
  modes: PodNamespaceModes;
  /** Host path of the pause binary (bind-mounted read-only at /pause). */
  pausePath: string;
  hostname: string;
  cgroupsPath: string;
  nofile?: number;
  /** The pod's Localhost profile file, loaded and validated, when its security context names one. */
  localhostSeccomp?: SeccompProfileFile;
  seccompHost?: SeccompHost;
  /** The pod's pinned network namespace (CNI): joined instead of a new, unnetworked one. */
  netnsPath?: string;
}

/** Where the pause binary appears inside the infra container. */
export const PAUSE_IN_CONTAINER = "/pause";

/**
 * @example
 * const spec = buildSandboxSpec({ id, config, modes: podNamespaceModes(config), pausePath: "/usr/bin/catatonit", hostname: "web", cgroupsPath: "/servin/pod-1/1" });
 */
export function buildSandboxSpec(input: SandboxSpecInput): OciSpec {
  const { config, modes } = input;
  const spec: OciSpec = {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      // -P: pause mode — catatonit only reaps and waits for a signal.
      args: [PAUSE_IN_CONTAINER, "-P"],
      env: ["PATH=/"],
      cwd: "/",
      capabilities: { bounding: [], effective: [], permitted: [] },
      rlimits: defaultRlimits(input.nofile),
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755", "size=64k"] },
      {
        destination: PAUSE_IN_CONTAINER,
        type: "bind",
        source: input.pausePath,
        options: ["bind", "ro", "rprivate"],
      },
    ],
    annotations: {
      "io.kubernetes.cri.container-type": "sandbox",
      "io.kubernetes.cri.sandbox-id": input.id,
      "io.kubernetes.cri.sandbox-name": config.metadata.name,
      "io.kubernetes.cri.sandbox-namespace": config.metadata.namespace ?? "",
    },
    linux: {
      namespaces: sandboxNamespaces(modes, input.netnsPath),
      cgroupsPath: input.cgroupsPath,
      resources: { devices: [{ allow: false, access: "rwm" }] },
      maskedPaths: [],
      readonlyPaths: [],
    },
  };
  if (modes.uts === "pod" && input.hostname) spec.hostname = input.hostname;
  // The infra gets the pod-level profile, as containerd's sandbox container
  // does; it has no capabilities, so RuntimeDefault is the narrowest variant.
  const seccomp = seccompForSpec(
    config.linux?.securityContext,
    [],
    `sandbox "${config.metadata.name}"`,
    input,
  );
  if (seccomp) spec.linux.seccomp = seccomp;
  const sysctls = config.linux?.sysctls;
  if (sysctls && Object.keys(sysctls).length > 0) spec.linux.sysctl = { ...sysctls };
  return spec;
}
