import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  findPlugin,
  listConfigFiles,
  loadNetworkConfig,
  missingPlugins,
  parseNetworkConfig,
} from "./config.js";
import { CniConfigError } from "./errors.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "servin-cni-config-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const list = (version: string) => ({
  cniVersion: version,
  name: "pods",
  plugins: [
    { type: "bridge", bridge: "cni0", ipam: { type: "host-local" } },
    { type: "portmap", capabilities: { portMappings: true, bandwidth: false } },
  ],
});

describe("parseNetworkConfig", () => {
  it.each(["1.0.0", "0.4.0", "0.3.1", "0.3.0"])("reads a %s conflist", (version) => {
    const c = parseNetworkConfig(JSON.stringify(list(version)), "/x/10.conflist");
    expect(c).toMatchObject({
      name: "pods",
      cniVersion: version,
      disableCheck: false,
      file: "/x/10.conflist",
    });
    expect(c.plugins.map((p) => p.type)).toEqual(["bridge", "portmap"]);
    expect(c.plugins[1]?.capabilities).toEqual({ portMappings: true, bandwidth: false });
    expect(c.plugins[0]?.raw).toEqual(list(version).plugins[0]);
  });

  it("turns a .conf into a one-plugin list without the list-level keys", () => {
    const c = parseNetworkConfig(
      JSON.stringify({ cniVersion: "0.4.0", name: "one", type: "bridge", bridge: "cni0" }),
      "/x/10.conf",
    );
    expect(c.plugins).toHaveLength(1);
    expect(c.plugins[0]?.raw).toEqual({ type: "bridge", bridge: "cni0" });
  });

  it("honours disableCheck", () => {
    expect(
      parseNetworkConfig(JSON.stringify({ ...list("1.0.0"), disableCheck: true }), "f").disableCheck,
    ).toBe(true);
  });

  it.each([
    ["{", "cni config /x/bad.conflist: invalid JSON"],
    ["[]", "cni config /x/bad.conflist: expected a JSON object"],
    ['{"name":"n","plugins":[{"type":"bridge"}]}', "cni config /x/bad.conflist: cniVersion: expected string"],
    [
      '{"cniVersion":"0.2.0","name":"n","plugins":[{"type":"bridge"}]}',
      'cni config /x/bad.conflist: cniVersion "0.2.0" is not supported (supported: 1.0.0, 0.4.0, 0.3.1, 0.3.0)',
    ],
    ['{"cniVersion":"1.0.0","plugins":[{"type":"bridge"}]}', "cni config /x/bad.conflist: name: expected"],
    [
      '{"cniVersion":"1.0.0","name":"n","plugins":[]}',
      "cni config /x/bad.conflist: plugins: the list is empty",
    ],
    ['{"cniVersion":"1.0.0","name":"n","plugins":{}}', "cni config /x/bad.conflist: plugins: expected array"],
    [
      '{"cniVersion":"1.0.0","name":"n","plugins":[{}]}',
      "cni config /x/bad.conflist: plugins[0].type: expected",
    ],
    ['{"cniVersion":"1.0.0","name":"n"}', 'cni config /x/bad.conflist: neither "plugins"'],
    [
      '{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a","capabilities":1}]}',
      "cni config /x/bad.conflist: plugins[0].capabilities: expected object",
    ],
  ])("rejects %s with an error naming the file and the problem", (text, message) => {
    const err = (() => {
      try {
        parseNetworkConfig(text, "/x/bad.conflist");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CniConfigError);
    expect((err as CniConfigError).message.startsWith(message)).toBe(true);
    expect((err as CniConfigError).code).toBe("FailedPrecondition");
    expect((err as CniConfigError).file).toBe("/x/bad.conflist");
  });
});

describe("loadNetworkConfig", () => {
  it("takes the first .conflist/.conf/.json in lexical order and ignores other files", async () => {
    await writeFile(join(dir, "20-b.conflist"), JSON.stringify({ ...list("1.0.0"), name: "b" }));
    await writeFile(
      join(dir, "10-a.conf"),
      JSON.stringify({ cniVersion: "1.0.0", name: "a", type: "bridge" }),
    );
    await writeFile(join(dir, "00-notes.txt"), "not a config");
    await mkdir(join(dir, "05-dir.conflist"));
    expect(await listConfigFiles(dir)).toEqual([join(dir, "10-a.conf"), join(dir, "20-b.conflist")]);
    expect((await loadNetworkConfig(dir))?.name).toBe("a");
  });

  it("answers undefined for a missing or empty directory", async () => {
    expect(await loadNetworkConfig(join(dir, "nope"))).toBeUndefined();
    expect(await loadNetworkConfig(dir)).toBeUndefined();
  });

  it("does not skip a broken first file: the error names it (containerd does the same)", async () => {
    await writeFile(join(dir, "00-broken.json"), "{");
    await writeFile(join(dir, "10-ok.conflist"), JSON.stringify(list("1.0.0")));
    await expect(loadNetworkConfig(dir)).rejects.toThrow(
      `cni config ${join(dir, "00-broken.json")}: invalid JSON`,
    );
  });
});

describe("findPlugin / missingPlugins", () => {
  it("searches the directories in order for an executable, IPAM delegates included", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    await mkdir(a);
    await mkdir(b);
    await writeFile(join(a, "bridge"), "#!/bin/sh\n"); // not executable: skipped
    await writeFile(join(b, "bridge"), "#!/bin/sh\n");
    await chmod(join(b, "bridge"), 0o755);
    expect(await findPlugin("bridge", [a, b])).toBe(join(b, "bridge"));
    expect(await findPlugin("portmap", [a, b])).toBeUndefined();
    const config = parseNetworkConfig(JSON.stringify(list("1.0.0")), "f");
    expect(await missingPlugins(config, [a, b])).toEqual(["host-local", "portmap"]);
  });
});
