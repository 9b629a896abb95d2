import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toRegistryConfig } from "../daemon/daemon.js";
import { defaultConfig, loadConfigFile } from "./config.js";

describe("[images] limits and upstream fallback keys", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const load = async (toml: string) => {
    const dir = await mkdtemp(join(tmpdir(), "servin-config-"));
    dirs.push(dir);
    await writeFile(join(dir, "config.toml"), toml);
    return loadConfigFile(join(dir, "config.toml"), true);
  };

  it("reads the decompression caps and the fallback switches into the image store's options", async () => {
    const c = {
      ...defaultConfig(),
      ...(await load(`
[images]
upstream_fallback = false
max_layer_expanded_bytes = 1073741824
max_layer_expansion_ratio = 50
max_image_expanded_bytes = 4294967296
[registries."docker.io"]
mirrors = ["http://127.0.0.1:5000"]
upstream_fallback = true
[registries."quay.io"]
mirrors = ["http://127.0.0.1:5001"]
`)),
    };
    expect(c.imageLimits).toEqual({
      maxLayerBytes: 1073741824,
      maxLayerExpansion: 50,
      maxImageBytes: 4294967296,
    });
    const reg = toRegistryConfig(c);
    expect(reg.upstreamFallback).toBe(false);
    expect(reg.upstreamFallbackFor).toEqual({ "docker.io": true });
    expect(reg.mirrors).toEqual({
      "docker.io": ["http://127.0.0.1:5000"],
      "quay.io": ["http://127.0.0.1:5001"],
    });
  });

  it("defaults to falling back, as containerd, with the store's own caps", () => {
    const c = defaultConfig();
    expect(c.imageLimits).toEqual({});
    expect(toRegistryConfig(c).upstreamFallback).toBe(true);
  });

  it("rejects wrong types with the key's name", async () => {
    await expect(load(`[images]\nupstream_fallback = "no"\n`)).rejects.toThrow(
      /images\.upstream_fallback: expected true or false/,
    );
    await expect(load(`[images]\nmax_layer_expansion_ratio = -1\n`)).rejects.toThrow(
      /images\.max_layer_expansion_ratio: expected a non-negative integer/,
    );
    await expect(load(`[registries."docker.io"]\nupstream_fallback = 1\n`)).rejects.toThrow(
      /registries\."docker\.io"\.upstream_fallback: expected true or false/,
    );
  });
});
