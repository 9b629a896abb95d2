/** CNI results (spec 0.3.x, 0.4.0 and 1.0.0 share one shape): parse what a plugin printed, pick the pod's IPs. */
import { isObject } from "./config.js";

export interface CniInterface {
  name: string;
  mac?: string;
  /** The netns path for interfaces inside the pod; absent for host-side ones (the bridge, the veth's host end). */
  sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR notation, `10.88.0.5/24`. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A parsed CNI result; `raw` is what the plugin printed, passed on as `prevResult` and cached for DEL/CHECK. */
export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: Array<{ dst: string; gw?: string }>;
  dns: CniDns;
  raw: Record<string, unknown>;
}

/**
 * Parses a plugin's stdout as a CNI result. Throws a plain Error naming the problem (the
 * caller adds the plugin's name).
 *
 * @example
 * parseResult('{"cniVersion":"1.0.0","ips":[{"address":"10.88.0.5/24"}]}').ips[0].address; // "10.88.0.5/24"
 */
export function parseResult(text: string): CniResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`result is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new Error("result is not a JSON object");
  // 0.1/0.2 results (`ip4`/`ip6`) are older than any config this package accepts.
  if ("ip4" in doc || "ip6" in doc)
    throw new Error("result uses the pre-0.3.0 format (ip4/ip6), not supported");
  const interfaces = arrayOf(doc.interfaces, "interfaces").map((i, n): CniInterface => {
    if (!isObject(i) || typeof i.name !== "string") throw new Error(`interfaces[${n}].name: expected string`);
    return {
      name: i.name,
      ...(typeof i.mac === "string" ? { mac: i.mac } : {}),
      ...(typeof i.sandbox === "string" && i.sandbox !== "" ? { sandbox: i.sandbox } : {}),
    };
  });
  const ips = arrayOf(doc.ips, "ips").map((ip, n): CniIpConfig => {
    if (!isObject(ip) || typeof ip.address !== "string")
      throw new Error(`ips[${n}].address: expected string`);
    return {
      address: ip.address,
      ...(typeof ip.gateway === "string" ? { gateway: ip.gateway } : {}),
      ...(typeof ip.interface === "number" ? { interface: ip.interface } : {}),
    };
  });
  const routes = arrayOf(doc.routes, "routes").map((r, n) => {
    if (!isObject(r) || typeof r.dst !== "string") throw new Error(`routes[${n}].dst: expected string`);
    return { dst: r.dst, ...(typeof r.gw === "string" ? { gw: r.gw } : {}) };
  });
  const d = isObject(doc.dns) ? doc.dns : {};
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : undefined;
  const dns: CniDns = {};
  if (strings(d.nameservers)) dns.nameservers = strings(d.nameservers);
  if (typeof d.domain === "string") dns.domain = d.domain;
  if (strings(d.search)) dns.search = strings(d.search);
  if (strings(d.options)) dns.options = strings(d.options);
  return {
    cniVersion: typeof doc.cniVersion === "string" ? doc.cniVersion : "",
    interfaces,
    ips,
    routes,
    dns,
    raw: doc,
  };
}

/**
 * The pod's IP addresses (without prefix length) on interface `ifName` inside the pod, IPv4
 * first, as kubelet expects `network.ip` then `additional_ips` (containerd does the same).
 * IPs not tied to an interface count as the pod's.
 *
 * @example
 * podIps(result, "eth0"); // ["10.88.0.5", "fd00::5"]
 */
export function podIps(result: CniResult, ifName = "eth0"): string[] {
  const ips = result.ips.filter((ip) => {
    if (ip.interface === undefined) return true;
    const iface = result.interfaces[ip.interface];
    return iface !== undefined && iface.sandbox !== undefined && iface.name === ifName;
  });
  const plain = ips.map((ip) => ip.address.split("/")[0] ?? ip.address);
  return [...plain.filter((a) => !a.includes(":")), ...plain.filter((a) => a.includes(":"))];
}

function arrayOf(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${field}: expected array`);
  return value;
}
