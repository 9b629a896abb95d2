/** invokePlugin with the smallest real executables: the environment a plugin sees, and failures without error JSON. */
import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CniPluginError } from "./errors.js";
import { invokePlugin, type PluginInvocation } from "./exec.js";

let dir: string;
const base = (path: string): PluginInvocation => ({
  path,
  type: "probe",
  command: "ADD",
  containerId: "abc",
  netns: "/run/servin/netns/abc",
  ifName: "eth0",
  args: "IgnoreUnknown=1;K8S_POD_NAME=web",
  binDirs: ["/a", "/b"],
  stdin: { cniVersion: "1.0.0", name: "n", type: "probe" },
});
async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "servin-cni-exec-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("invokePlugin", () => {
  it("passes the CNI environment (and nothing else of ours) and the config on stdin", async () => {
    const path = await script(
      "env",
      'printf \'{"env":"%s|%s|%s|%s|%s|%s","home":"%s","stdin":%s}\' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$CNI_PATH" "$HOME" "$(cat)"',
    );
    const out = JSON.parse(await invokePlugin(base(path)));
    expect(out.env).toBe("ADD|abc|/run/servin/netns/abc|eth0|IgnoreUnknown=1;K8S_POD_NAME=web|/a:/b");
    expect(out.home).toBe("");
    expect(out.stdin).toEqual({ cniVersion: "1.0.0", name: "n", type: "probe" });
  });

  it("a failure without error JSON names the plugin, the exit status and stderr", async () => {
    const path = await script("crash", "echo 'panic: runtime error' >&2; exit 2");
    await expect(invokePlugin(base(path))).rejects.toThrow(
      'cni plugin "probe" ADD failed: exited with status 2: panic: runtime error',
    );
  });

  it("a missing executable is an error naming it", async () => {
    const err = await invokePlugin(base(join(dir, "missing"))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect((err as Error).message).toMatch(/^cni plugin "probe" ADD: cannot run .*missing: .*ENOENT/);
  });

  it("an already aborted signal runs nothing", async () => {
    const path = await script("never", `touch ${join(dir, "ran")}`);
    await expect(invokePlugin({ ...base(path), signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: "Aborted",
    });
    await expect(stat(join(dir, "ran"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
