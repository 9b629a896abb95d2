import { describe, expect, it } from "vitest";
import { parseResult, podIps } from "./result.js";

// What Debian's bridge plugin prints (trimmed), per spec version.
const v1 = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "svntest0", mac: "aa:bb:cc:00:00:01" },
    { name: "veth1", mac: "aa:bb:cc:00:00:02" },
    { name: "eth0", mac: "aa:bb:cc:00:00:03", sandbox: "/run/servin/netns/p1" },
  ],
  ips: [
    { interface: 2, address: "fd00:99::5/64", gateway: "fd00:99::1" },
    { interface: 2, address: "10.99.0.5/24", gateway: "10.99.0.1" },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.99.0.1" }],
  dns: { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] },
};

describe("parseResult", () => {
  it("reads a 1.0.0 result and keeps the raw document for prevResult", () => {
    const r = parseResult(JSON.stringify(v1));
    expect(r.cniVersion).toBe("1.0.0");
    expect(r.interfaces[2]).toEqual({
      name: "eth0",
      mac: "aa:bb:cc:00:00:03",
      sandbox: "/run/servin/netns/p1",
    });
    expect(r.routes).toEqual([{ dst: "0.0.0.0/0", gw: "10.99.0.1" }]);
    expect(r.dns).toEqual({ nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] });
    expect(r.raw).toEqual(v1);
  });

  it("reads a 0.4.0 result (ips carry a version field)", () => {
    const v04 = {
      ...v1,
      cniVersion: "0.4.0",
      ips: [{ version: "4", interface: 2, address: "10.99.0.7/24" }],
    };
    expect(podIps(parseResult(JSON.stringify(v04)))).toEqual(["10.99.0.7"]);
  });

  it("answers the pod's IPs, IPv4 first, only those of the pod's interface", () => {
    const withHostIp = { ...v1, ips: [...v1.ips, { interface: 0, address: "10.99.0.1/24" }] };
    expect(podIps(parseResult(JSON.stringify(withHostIp)), "eth0")).toEqual(["10.99.0.5", "fd00:99::5"]);
    expect(podIps(parseResult(JSON.stringify(v1)), "net1")).toEqual([]);
  });

  it.each([
    ["nope", "result is not JSON"],
    ["[1]", "result is not a JSON object"],
    ['{"ip4":{"ip":"10.0.0.2/24"}}', "result uses the pre-0.3.0 format"],
    ['{"ips":{}}', "ips: expected array"],
    ['{"ips":[{"address":5}]}', "ips[0].address: expected string"],
    ['{"interfaces":[{}]}', "interfaces[0].name: expected string"],
  ])("rejects %s", (text, message) => {
    expect(() => parseResult(text)).toThrow(message);
  });
});
