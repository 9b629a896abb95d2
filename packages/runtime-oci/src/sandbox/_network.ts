/** A pod's CNI network: what RunPodSandbox, PodSandboxStatus, Stop and Remove ask of @servin/cni. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { listConfigFiles, type RuntimeConfig } from "@servin/cni";
import type { PodSandboxConfig, PodSandboxNetworkStatus } from "@servin/cri-types";
import type { SandboxRecord } from "@servin/runtime-core";
import type { OciContext } from "../_context.js";
import type { PodNamespaceModes } from "../spec/namespaces.js";

/**
 * True when the pod is to be networked through CNI: the backend has a network, the pod is not
 * host-network, and the conf dir holds a config file. With none at all the pod gets loopback
 * only, as before CNI (NetworkReady is false, so a kubelet starts no such pod anyway); a config
 * that is there but broken or missing a plugin fails the pod with the reason instead.
 */
export async function usesCni(ctx: OciContext, modes: PodNamespaceModes, id: string): Promise<boolean> {
  if (!ctx.cni || modes.network !== "pod") return false;
  if ((await listConfigFiles(ctx.cni.confDir)).length > 0) return true;
  ctx.logger.warn(
    `pod sandbox "${id}": no cni config in ${ctx.cni.confDir}: the pod gets loopback only (NetworkReady is false)`,
  );
  return false;
}

/**
 * The CNI capabilities from the pod config, as containerd passes them:
 * `portMappings` (mappings without a host port are not published; protocol
 * lowercased, `hostIP` from `host_ip`) and `dns` from `dns_config`.
 */
export function podRuntimeConfig(config: PodSandboxConfig): RuntimeConfig {
  const out: RuntimeConfig = {};
  const ports = (config.portMappings ?? [])
    .filter((p) => (p.hostPort ?? 0) > 0)
    .map((p) => ({
      hostPort: p.hostPort ?? 0,
      containerPort: p.containerPort ?? 0,
      protocol: (p.protocol ?? "TCP").toLowerCase() as "tcp" | "udp" | "sctp",
      ...(p.hostIp ? { hostIP: p.hostIp } : {}),
    }));
  if (ports.length > 0) out.portMappings = ports;
  const dns = config.dnsConfig;
  if (
    dns &&
    ((dns.servers?.length ?? 0) > 0 || (dns.searches?.length ?? 0) > 0 || (dns.options?.length ?? 0) > 0)
  )
    out.dns = {
      ...(dns.servers?.length ? { servers: dns.servers } : {}),
      ...(dns.searches?.length ? { searches: dns.searches } : {}),
      ...(dns.options?.length ? { options: dns.options } : {}),
    };
  return out;
}

/** CRI network status from the attachment's IPs: the first is `ip`, the rest `additional_ips`. */
export function networkStatus(ips: readonly string[]): PodSandboxNetworkStatus {
  if (ips.length === 0) return {};
  return {
    ip: ips[0] as string,
    ...(ips.length > 1 ? { additionalIps: ips.slice(1).map((ip) => ({ ip })) } : {}),
  };
}

/** The pod's current network status from the cached attachment (no plugin runs), or undefined without one. */
export async function podNetwork(
  ctx: OciContext,
  sandbox: SandboxRecord,
): Promise<PodSandboxNetworkStatus | undefined> {
  if (!ctx.cni) return undefined;
  const a = await ctx.cni.attachment(sandbox.id);
  return a ? networkStatus(a.ips) : undefined;
}

/**
 * StopPodSandbox's DEL: runs once per attachment however often Stop is
 * retried (the record is gone after the first, so a retry answers false).
 * The netns stays: containers may still be inspected until Remove.
 */
export async function releasePodNetwork(ctx: OciContext, id: string, signal?: AbortSignal): Promise<void> {
  if (!ctx.cni) return;
  // After a restart a Stop may come before start-up reconcile has looked at this pod.
  await ctx.cniReconciled;
  if (await ctx.cni.teardown(id, signal)) ctx.logger.info(`pod sandbox "${id}": network released`);
}

/** RemovePodSandbox: DEL when Stop did not (Remove without Stop), then the pinned netns. Idempotent. */
export async function removePodNetwork(ctx: OciContext, id: string): Promise<void> {
  if (!ctx.cni) return;
  await releasePodNetwork(ctx, id);
  await ctx.cni.removeNetns(id);
}

/**
 * Start-up reconcile: a pod is live while its pod files exist (made first
 * by RunPodSandbox, removed by RemovePodSandbox); every attachment and netns
 * of any other pod, and every ADD or DEL a SIGKILL interrupted, is undone.
 * Failures are logged, never thrown: the pods' own Stop/Remove retry them.
 */
export async function reconcilePodNetworks(ctx: OciContext): Promise<void> {
  const cni = ctx.cni;
  if (!cni) return;
  try {
    const live = await readdir(join(ctx.root, "sandboxes")).catch(() => [] as string[]);
    const report = await cni.reconcile(live);
    for (const f of report.failed) ctx.logger.warn(`cni reconcile: pod sandbox "${f.id}": ${f.error}`);
    const lost = report.deleted.filter((id) => live.includes(id));
    if (report.deleted.length > 0 || report.netnsRemoved.length > 0)
      ctx.logger.info(
        `cni reconcile: released ${report.deleted.length} attachment(s), removed ${report.netnsRemoved.length} netns file(s)${lost.length > 0 ? `; pods that lost their network: ${lost.join(", ")}` : ""}`,
      );
  } catch (err) {
    ctx.logger.error(`cni reconcile failed: ${(err as Error).message}`);
  }
}
