/** The OCI spec (config.json) of a CRI container: the CRI config merged with the image config and the pod. */
import type { Capability, ContainerConfig, Mount, OciImageConfig } from "@servin/cri-types";
import {
  ALL_CAPABILITIES,
  baseMounts,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultRlimits,
} from "./defaults.js";
import { containerNamespaces, type JoinPaths, type PodNamespaceModes } from "./namespaces.js";
import { mergeEnv, resolveArgs, resolveCwd } from "./process.js";
import { type CgroupMode, clampOomScoreAdj, toOciResources } from "./resources.js";
import { type SeccompHost, type SeccompProfileFile, seccompForSpec } from "./seccomp.js";
import type { OciDevice, OciDeviceCgroup, OciMount, OciSpec, OciUser } from "./types.js";

/** A CRI device whose host node has been stat'ed. */
export interface ResolvedDevice extends OciDevice {
  permissions: string;
}

/** Everything the spec depends on, with OS facts already looked up (so this module stays pure). */
export interface ContainerSpecInput {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  image: OciImageConfig;
  /** Absolute path of the rootfs (the overlay mount point). */
  rootfs: string;
  user: OciUser;
  podModes: PodNamespaceModes;
  join: JoinPaths;
  hostname: string;
  /** The pod's files, bind-mounted over the image's. */
  podFiles: { hosts: string; resolvConf: string; hostname: string };
  /** The pod's /dev/shm source: a tmpfs under the state dir, or "/dev/shm" for host IPC. */
  shmPath: string;
  cgroupsPath: string;
  cgroupMode: CgroupMode;
  devices: ResolvedDevice[];
  nofile?: number;
  /** The Localhost profile file, loaded and validated, when the security context names one. */
  localhostSeccomp?: SeccompProfileFile;
  /** The server's own bounding set: what "all capabilities" can mean on this host. */
  hostCapabilities?: readonly string[];
  /** Architecture and kernel the RuntimeDefault profile is generated for (default: this host). */
  seccompHost?: SeccompHost;
}

const PROPAGATION: Record<NonNullable<Mount["propagation"]>, string> = {
  PROPAGATION_PRIVATE: "rprivate",
  PROPAGATION_HOST_TO_CONTAINER: "rslave",
  PROPAGATION_BIDIRECTIONAL: "rshared",
};

/** Normalises "net_admin" / "CAP_NET_ADMIN" to "CAP_NET_ADMIN". */
function capName(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

/**
 * Default set ± the CRI's add/drop ("ALL" allowed on either side, as in
 * containerd: drop ALL then add a few gives exactly those few).
 *
 * @example
 * resolveCapabilities({ dropCapabilities: ["ALL"], addCapabilities: ["NET_ADMIN"] }, false); // ["CAP_NET_ADMIN"]
 */
export function resolveCapabilities(
  caps: Capability | undefined,
  privileged: boolean,
  hostCapabilities?: readonly string[],
): string[] {
  // "All" means all the host has (containerd's WithAllCurrentCapabilities):
  // runc fails the create on a capability outside its own bounding set.
  const all = hostCapabilities
    ? ALL_CAPABILITIES.filter((c) => hostCapabilities.includes(c))
    : [...ALL_CAPABILITIES];
  if (privileged) return all;
  const add = (caps?.addCapabilities ?? []).map(capName);
  const drop = (caps?.dropCapabilities ?? []).map(capName);
  let set = new Set<string>(add.includes("CAP_ALL") ? all : DEFAULT_CAPABILITIES);
  if (drop.includes("CAP_ALL")) set = new Set();
  for (const c of drop) set.delete(c);
  for (const c of add) if (c !== "CAP_ALL") set.add(c);
  return [...set];
}

/** Orders bind mounts so that a parent is mounted before anything inside it (containerd sorts the same way). */
function depth(path: string): number {
  return path.split("/").filter((p) => p !== "").length;
}

/** The CRI mounts as OCI bind mounts, plus the rootfs propagation they need. */
export function criMounts(mounts: Mount[] | undefined): { mounts: OciMount[]; rootfsPropagation?: string } {
  const list = [...(mounts ?? [])].sort((a, b) => depth(a.containerPath) - depth(b.containerPath));
  let rootfsPropagation: string | undefined;
  const out: OciMount[] = list.map((m) => {
    const propagation = PROPAGATION[m.propagation ?? "PROPAGATION_PRIVATE"];
    // A shared/slave bind is only useful when the container's root mount
    // propagates too (containerd sets rootfsPropagation the same way).
    if (propagation === "rshared") rootfsPropagation = "rshared";
    else if (propagation === "rslave" && rootfsPropagation === undefined) rootfsPropagation = "rslave";
    return {
      destination: m.containerPath,
      type: "bind",
      source: m.hostPath,
      options: ["rbind", propagation, m.readonly ? "ro" : "rw"],
    };
  });
  return rootfsPropagation === undefined ? { mounts: out } : { mounts: out, rootfsPropagation };
}

/**
 * @example
 * const spec = buildContainerSpec(input); // write JSON.stringify(spec) to <bundle>/config.json
 */
export function buildContainerSpec(input: ContainerSpecInput): OciSpec {
  const { config } = input;
  const security = config.linux?.securityContext;
  const privileged = security?.privileged === true;
  const caps = resolveCapabilities(security?.capabilities, privileged, input.hostCapabilities);
  const user = input.user;

  const cri = criMounts(config.mounts);
  const taken = new Set(cri.mounts.map((m) => m.destination));
  const mounts: OciMount[] = baseMounts({ privileged }).filter((m) => !taken.has(m.destination));
  const add = (m: OciMount) => {
    if (!taken.has(m.destination)) mounts.push(m);
  };
  // A fresh mqueue mount in either case, as containerd does: mqueue shows the
  // queues of the IPC namespace the container is in, so with host IPC it shows
  // the host's — without needing the host to have /dev/mqueue mounted.
  add({
    destination: "/dev/mqueue",
    type: "mqueue",
    source: "mqueue",
    options: ["nosuid", "noexec", "nodev"],
  });
  add({
    destination: "/dev/shm",
    type: "bind",
    source: input.shmPath,
    options: ["rbind", "nosuid", "noexec", "nodev"],
  });
  // The pod's files are writable unless the rootfs is read-only (containerd's rule).
  const rw = security?.readonlyRootfs ? "ro" : "rw";
  add({
    destination: "/etc/hostname",
    type: "bind",
    source: input.podFiles.hostname,
    options: ["rbind", "rprivate", rw],
  });
  add({
    destination: "/etc/hosts",
    type: "bind",
    source: input.podFiles.hosts,
    options: ["rbind", "rprivate", rw],
  });
  add({
    destination: "/etc/resolv.conf",
    type: "bind",
    source: input.podFiles.resolvConf,
    options: ["rbind", "rprivate", rw],
  });
  mounts.push(...cri.mounts);

  const deviceRules: OciDeviceCgroup[] = privileged
    ? [{ allow: true, access: "rwm" }]
    : [{ allow: false, access: "rwm" }];
  const devices: OciDevice[] = [];
  for (const d of input.devices) {
    const { permissions, ...node } = d;
    devices.push(node);
    if (!privileged && (node.type === "c" || node.type === "b")) {
      const rule: OciDeviceCgroup = { allow: true, type: node.type, access: permissions || "rwm" };
      if (node.major !== undefined) rule.major = node.major;
      if (node.minor !== undefined) rule.minor = node.minor;
      deviceRules.push(rule);
    }
  }

  const resources = toOciResources(config.linux?.resources, input.cgroupMode);
  resources.devices = deviceRules;

  const spec: OciSpec = {
    ociVersion: "1.0.2",
    process: {
      terminal: config.tty === true,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids ?? [user.gid] },
      args: resolveArgs(config, input.image, config.metadata.name),
      env: mergeEnv(input.image.env, config.envs, input.hostname),
      cwd: resolveCwd(config.workingDir, input.image),
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: defaultRlimits(input.nofile),
      noNewPrivileges: security?.noNewPrivs === true,
    },
    root: { path: input.rootfs, readonly: security?.readonlyRootfs === true },
    mounts,
    annotations: {
      "io.kubernetes.cri.container-type": "container",
      "io.kubernetes.cri.container-name": config.metadata.name,
      "io.kubernetes.cri.sandbox-id": input.sandboxId,
    },
    linux: {
      namespaces: containerNamespaces(
        input.podModes,
        security?.namespaceOptions,
        input.join,
        config.metadata.name,
      ),
      cgroupsPath: input.cgroupsPath,
      resources,
      maskedPaths: privileged
        ? []
        : security?.maskedPaths && security.maskedPaths.length > 0
          ? [...security.maskedPaths]
          : [...DEFAULT_MASKED_PATHS],
      readonlyPaths: privileged
        ? []
        : security?.readonlyPaths && security.readonlyPaths.length > 0
          ? [...security.readonlyPaths]
          : [...DEFAULT_READONLY_PATHS],
    },
  };
  const oom = clampOomScoreAdj(config.linux?.resources?.oomScoreAdj);
  if (oom !== undefined) spec.process.oomScoreAdj = oom;
  if (devices.length > 0) spec.linux.devices = devices;
  // Generated from the bounding set, so a capability added through the CRI
  // also unlocks the syscalls it governs (containerd's WithDefaultProfile).
  const seccomp = seccompForSpec(security, caps, `container "${config.metadata.name}"`, input);
  if (seccomp) spec.linux.seccomp = seccomp;
  if (cri.rootfsPropagation) spec.linux.rootfsPropagation = cri.rootfsPropagation;
  // A container only sets a hostname when it has its own UTS namespace (runc
  // refuses otherwise); in a pod it sees the infra's.
  if (input.podModes.uts === "pod" && !input.join.uts && input.hostname) spec.hostname = input.hostname;
  return spec;
}
