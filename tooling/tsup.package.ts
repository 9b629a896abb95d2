/** The one tsup setup every library package builds with: ESM + .d.ts for Node 20, entries overridable. */
import { defineConfig, type Options } from "tsup";

export function packageConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    ...overrides,
  });
}
