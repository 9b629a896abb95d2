/** The pod's /etc/hosts, /etc/resolv.conf and /etc/hostname contents (bind-mounted into every container). */
import type { DnsConfig } from "@servin/cri-types";

/**
 * resolv.conf from the pod's DNS config; `undefined` when the pod has none,
 * meaning "use the host's" (kubelet's ClusterFirst always sends one).
 *
 * @example
 * renderResolvConf({ servers: ["10.96.0.10"], searches: ["svc.cluster.local"], options: ["ndots:5"] });
 * // "search svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
 */
export function renderResolvConf(dns: DnsConfig | undefined): string | undefined {
  if (!dns) return undefined;
  const servers = dns.servers ?? [];
  const searches = dns.searches ?? [];
  const options = dns.options ?? [];
  if (servers.length === 0 && searches.length === 0 && options.length === 0) return undefined;
  let out = "";
  if (searches.length > 0) out += `search ${searches.join(" ")}\n`;
  for (const s of servers) out += `nameserver ${s}\n`;
  if (options.length > 0) out += `options ${options.join(" ")}\n`;
  return out;
}

/**
 * /etc/hosts for a pod: loopback entries plus the pod's hostname (kubelet
 * rewrites it for non-host-network pods; this is what the runtime provides).
 */
export function renderHosts(hostname: string, podIps: string[] = []): string {
  let out = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  out += "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n";
  if (hostname) {
    if (podIps.length === 0) out += `127.0.1.1\t${hostname}\n`;
    for (const ip of podIps) out += `${ip}\t${hostname}\n`;
  }
  return out;
}
