/**
 * What CniNetwork hands each plugin (stdin and CNI_ARGS), seen through two recording plugins:
 * prevResult chaining on ADD, the cached result on CHECK and DEL, reverse order on DEL, and
 * runtimeConfig only for declared capabilities. The real plugins are in test/network.test.ts.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CniNetwork } from "./network.js";

let dir: string;
let cni: CniNetwork;
const log = () => join(dir, "log");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "servin-cni-net-"));
  const bin = join(dir, "bin");
  await mkdir(bin);
  await mkdir(join(dir, "net.d"));
  // Each plugin appends "<type> <command> <CNI_ARGS> <stdin>" and answers ADD with a result
  // whose ips grow by one address, so the chain is visible.
  for (const [type, ip] of [
    ["rec-a", "10.1.0.2/24"],
    ["rec-b", "fd00::2/64"],
  ] as const) {
    const path = join(bin, type);
    await writeFile(
      path,
      `#!/bin/sh
in=$(cat)
printf '%s %s %s %s\\n' "${type}" "$CNI_COMMAND" "$CNI_ARGS" "$in" >>"${log()}"
[ "$CNI_COMMAND" = ADD ] || exit 0
prev=$(printf '%s' "$in" | sed -n 's/.*"prevResult":{"cniVersion":"1.0.0","interfaces":\\[[^]]*\\],"ips":\\[\\([^]]*\\)\\].*/\\1/p')
printf '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"%s"}],"ips":[%s%s{"address":"${ip}","interface":0}]}' "$CNI_NETNS" "$prev" "\${prev:+,}"
`,
    );
    await chmod(path, 0o755);
  }
  await writeFile(
    join(dir, "net.d", "10.conflist"),
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "rec",
      plugins: [
        { type: "rec-a", capabilities: { portMappings: true } },
        { type: "rec-b", capabilities: { dns: true, bandwidth: false } },
      ],
    }),
  );
  cni = new CniNetwork({
    confDir: join(dir, "net.d"),
    binDirs: [bin],
    cacheDir: join(dir, "cache"),
    netnsDir: join(dir, "netns"),
  });
  await cni.start();
});
afterAll(async () => {
  cni.close();
  await rm(dir, { recursive: true, force: true });
});

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
