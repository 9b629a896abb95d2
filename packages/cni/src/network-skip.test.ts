/**
 * Plugin runs CniNetwork leaves out, seen through recording plugins: `portmap` chained
 * without port mappings (a no-op by its own code), and every plugin while the runtime's
 * netns is not pinned yet (netnsReady).
 */
import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RecordingNetwork, recordingNetwork } from "./_test-recording.js";
import { type CniNetwork, isNoOp } from "./network.js";

const pod = { podName: "web", podNamespace: "ns", podUid: "u" };
let net: RecordingNetwork;
let cni: CniNetwork;

beforeAll(async () => {
  // "<type> <command>" per run; ADD answers its prevResult, or a first result.
  const recorder = (type: string) => (log: string) =>
    `cat >/dev/null
printf '%s %s\\n' "${type}" "$CNI_COMMAND" >>"${log}"
[ "$CNI_COMMAND" = ADD ] || exit 0
printf '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"%s"}],"ips":[{"address":"10.2.0.2/24","interface":0}]}' "$CNI_NETNS"
`;
  net = await recordingNetwork(
    "servin-cni-skip-",
    { "rec-main": recorder("rec-main"), portmap: recorder("portmap") },
    {
      cniVersion: "1.0.0",
      name: "skip",
      plugins: [{ type: "rec-main" }, { type: "portmap", capabilities: { portMappings: true } }],
    },
  );
  cni = net.cni;
});
afterAll(() => net.close());
const log = () => net.log;

const runs = async () => {
  const text = await readFile(log(), "utf8").catch(() => "");
  await writeFile(log(), "");
  return text.trim().split("\n").filter(Boolean);
};

describe("plugin runs left out", () => {
  it("portmap runs for a pod with port mappings, and not at all (ADD, CHECK, DEL) for one without", async () => {
    const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: "tcp" as const }];
    const a = await cni.setup({
      id: "ports",
      netnsPath: "/run/x/ports",
      pod,
      runtimeConfig: { portMappings },
    });
    expect(a.ips).toEqual(["10.2.0.2"]);
    await cni.check("ports");
    await cni.teardown("ports");
    expect(await runs()).toEqual([
      "rec-main ADD",
      "portmap ADD",
      "rec-main CHECK",
      "portmap CHECK",
      "portmap DEL",
      "rec-main DEL",
    ]);

    const b = await cni.setup({ id: "plain", netnsPath: "/run/x/plain", pod, runtimeConfig: {} });
    expect(b.ips).toEqual(["10.2.0.2"]); // the main plugin's result, as portmap would have passed it on
    await cni.check("plain");
    await cni.teardown("plain");
    expect(await runs()).toEqual(["rec-main ADD", "rec-main CHECK", "rec-main DEL"]);
  });

  it("isNoOp: only a chained portmap, with its capability and no mappings", () => {
    const pm = { type: "portmap", capabilities: { portMappings: true } };
    const some = { portMappings: [{ hostPort: 1, containerPort: 1, protocol: "tcp" as const }] };
    expect(isNoOp(pm, 1, {})).toBe(true);
    expect(isNoOp(pm, 1, { portMappings: [] })).toBe(true);
    expect(isNoOp(pm, 1, some)).toBe(false);
    expect(isNoOp({ type: "portmap" }, 1, some)).toBe(true); // without the capability it never gets them
    expect(isNoOp(pm, 0, {})).toBe(false); // first in the list: its error (no prevResult) stays its own
    expect(isNoOp({ type: "bandwidth", capabilities: { bandwidth: true } }, 1, {})).toBe(false);
  });

  it("setup waits for netnsReady before any plugin runs, and leaves nothing when it rejects", async () => {
    let pinned: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      pinned = resolve;
    });
    const setup = cni.setup({ id: "later", netnsPath: "/run/x/later", pod, netnsReady: ready });
    await new Promise((r) => setTimeout(r, 50));
    expect(await runs()).toEqual([]); // the record is written, no plugin has run
    expect((await cni.store.get("later"))?.state).toBe("adding");
    pinned();
    expect((await setup).ips).toEqual(["10.2.0.2"]);
    expect(await runs()).toEqual(["rec-main ADD"]);
    await cni.teardown("later");
    await runs();

    const failed = cni.setup({
      id: "never",
      netnsPath: "/run/x/never",
      pod,
      netnsReady: Promise.reject(new Error("pod infra did not start")),
    });
    await expect(failed).rejects.toThrow("pod infra did not start");
    expect(await runs()).toEqual([]); // no ADD, and no DEL either: nothing was made
    expect(await cni.store.get("never")).toBeUndefined();
    expect(await cni.teardown("never")).toBe(false);
  });
});
