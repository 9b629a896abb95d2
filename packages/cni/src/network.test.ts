/**
 * What CniNetwork hands each plugin (stdin and CNI_ARGS), seen through two recording plugins:
 * prevResult chaining on ADD, the cached result on CHECK and DEL, reverse order on DEL, and
 * runtimeConfig only for declared capabilities. The real plugins are in test/network.test.ts.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RecordingNetwork, recordingNetwork } from "./_test-recording.js";
import type { CniNetwork } from "./network.js";

let net: RecordingNetwork;
let cni: CniNetwork;

beforeAll(async () => {
  // Each plugin appends "<type> <command> <CNI_ARGS> <stdin>" and answers ADD with a result
  // whose ips grow by one address, so the chain is visible.
  const recorder = (type: string, ip: string) => (log: string) =>
    `in=$(cat)
printf '%s %s %s %s\\n' "${type}" "$CNI_COMMAND" "$CNI_ARGS" "$in" >>"${log}"
[ "$CNI_COMMAND" = ADD ] || exit 0
prev=$(printf '%s' "$in" | sed -n 's/.*"prevResult":{"cniVersion":"1.0.0","interfaces":\\[[^]]*\\],"ips":\\[\\([^]]*\\)\\].*/\\1/p')
printf '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"%s"}],"ips":[%s%s{"address":"${ip}","interface":0}]}' "$CNI_NETNS" "$prev" "\${prev:+,}"
`;
  net = await recordingNetwork(
    "servin-cni-net-",
    { "rec-a": recorder("rec-a", "10.1.0.2/24"), "rec-b": recorder("rec-b", "fd00::2/64") },
    {
      cniVersion: "1.0.0",
      name: "rec",
      plugins: [
        { type: "rec-a", capabilities: { portMappings: true } },
        { type: "rec-b", capabilities: { dns: true, bandwidth: false } },
      ],
    },
  );
  cni = net.cni;
});
afterAll(() => net.close());
const log = () => net.log;

const lines = async () =>
  (await readFile(log(), "utf8"))
    .trim()
    .split("\n")
    .map((l) => {
      const [type, command, args, ...json] = l.split(" ");
      return { type, command, args, stdin: JSON.parse(json.join(" ")) };
    });

describe("CniNetwork plugin protocol", () => {
  it("chains ADD results, filters runtimeConfig by capability, and DELs in reverse with the cached result", async () => {
    const runtimeConfig = {
      portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "tcp" as const }],
      dns: { servers: ["10.96.0.10"] },
      bandwidth: { ingressRate: 1000 },
    };
    const a = await cni.setup({
      id: "pod1",
      netnsPath: "/run/x/pod1",
      pod: { podName: "web", podNamespace: "ns", podUid: "u" },
      runtimeConfig,
    });
    expect(a.ips).toEqual(["10.1.0.2", "fd00::2"]);
    expect(await cni.check("pod1")).toBe(true);
    expect(await cni.teardown("pod1")).toBe(true);
    const calls = await lines();
    expect(calls.map((c) => `${c.type} ${c.command}`)).toEqual([
      "rec-a ADD",
      "rec-b ADD",
      "rec-a CHECK",
      "rec-b CHECK",
      "rec-b DEL",
      "rec-a DEL",
    ]);
    expect(calls[0]?.args).toBe(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=pod1;K8S_POD_UID=u",
    );
    expect(calls[0]?.stdin).toEqual({
      type: "rec-a",
      capabilities: { portMappings: true },
      name: "rec",
      cniVersion: "1.0.0",
      runtimeConfig: { portMappings: runtimeConfig.portMappings },
    });
    expect(calls[1]?.stdin.runtimeConfig).toEqual({ dns: runtimeConfig.dns }); // bandwidth: false
    expect(calls[1]?.stdin.prevResult.ips).toEqual([{ address: "10.1.0.2/24", interface: 0 }]);
    const final = a.result.raw;
    for (const c of calls.slice(2)) expect(c.stdin.prevResult).toEqual(final);
  });
});
