/** Which Linux namespaces a pod creates and how its containers join them, from CRI namespace_options. */
import { CriError, type NamespaceMode, type NamespaceOption, type PodSandboxConfig } from "@servin/cri-types";
import type { OciNamespace } from "./types.js";

/** The pod-level namespace decisions (the infra container creates the "pod" ones). */
export interface PodNamespaceModes {
  /** "pod": a new network namespace (loopback only until CNI); "node": the host's. */
  network: "pod" | "node";
  ipc: "pod" | "node";
  /** UTS follows the network: a host-network pod also has the host's hostname (kubelet's rule). */
  uts: "pod" | "node";
  /** "pod": containers share the infra's PID namespace; "container": each its own; "node": the host's. */
  pid: "pod" | "container" | "node";
}

function mode(value: NamespaceMode | undefined, fallback: NamespaceMode): NamespaceMode {
  return value ?? fallback;
}

/**
 * @example
 * podNamespaceModes({ metadata: { name: "p" }, linux: { securityContext: { namespaceOptions: { network: "NODE" } } } });
 * // { network: "node", ipc: "pod", uts: "node", pid: "pod" }
 */
export function podNamespaceModes(config: PodSandboxConfig): PodNamespaceModes {
  const ns: NamespaceOption = config.linux?.securityContext?.namespaceOptions ?? {};
  const network = mode(ns.network, "POD") === "NODE" ? "node" : "pod";
  const ipc = mode(ns.ipc, "POD") === "NODE" ? "node" : "pod";
  // POD is the proto's zero value: a gRPC client asking for a shared PID
  // namespace sends nothing at all, so absent means POD (as in containerd).
  const pidMode = mode(ns.pid, "POD");
  const pid = pidMode === "NODE" ? "node" : pidMode === "POD" ? "pod" : "container";
  return { network, ipc, uts: network, pid };
}

/**
 * The infra container's namespaces: new ones for everything the pod owns,
 * except the network one when CNI set it up beforehand at `netnsPath`.
 */
export function sandboxNamespaces(modes: PodNamespaceModes, netnsPath?: string): OciNamespace[] {
  const out: OciNamespace[] = [{ type: "mount" }];
  if (modes.network === "pod") out.push(joinOrNew("network", netnsPath));
  if (modes.ipc === "pod") out.push({ type: "ipc" });
  if (modes.uts === "pod") out.push({ type: "uts" });
  // The infra gets its own PID namespace unless the pod is in the host's; with
  // pid=CONTAINER it is simply not shared (catatonit is PID 1 of its own).
  if (modes.pid !== "node") out.push({ type: "pid" });
  return out;
}

/** Paths of the namespaces a container may join (`/proc/<pid>/ns/*` or pinned files). */
export interface JoinPaths {
  network?: string;
  ipc?: string;
  uts?: string;
  /** The infra's PID namespace (for pid=POD). */
  pid?: string;
  /** The target container's PID namespace (for pid=TARGET). */
  targetPid?: string;
}

/**
 * A container's namespaces: join the pod's network/IPC/UTS (or stay in the
 * host's when the pod says NODE), and PID per the container's own option.
 */
export function containerNamespaces(
  pod: PodNamespaceModes,
  containerNs: NamespaceOption | undefined,
  join: JoinPaths,
  containerName = "",
): OciNamespace[] {
  const out: OciNamespace[] = [{ type: "mount" }];
  if (pod.network === "pod") out.push(joinOrNew("network", join.network));
  if (pod.ipc === "pod") out.push(joinOrNew("ipc", join.ipc));
  if (pod.uts === "pod") out.push(joinOrNew("uts", join.uts));
  const pid = containerNs?.pid ?? (pod.pid === "pod" ? "POD" : pod.pid === "node" ? "NODE" : "CONTAINER");
  switch (pid) {
    case "NODE":
      break;
    case "POD":
      out.push(joinOrNew("pid", pod.pid === "pod" ? join.pid : undefined));
      break;
    case "TARGET":
      if (!join.targetPid) {
        throw CriError.failedPrecondition(
          `container "${containerName}": namespace_options.pid is TARGET but target "${containerNs?.targetId ?? ""}" is not running`,
        );
      }
      out.push({ type: "pid", path: join.targetPid });
      break;
    default:
      out.push({ type: "pid" });
  }
  return out;
}

function joinOrNew(type: OciNamespace["type"], path: string | undefined): OciNamespace {
  return path ? { type, path } : { type };
}
