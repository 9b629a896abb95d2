import { defineConfig } from "tsup";

export default defineConfig({
  // The conformance suite is a separate entry so that importing the runtime never loads vitest.
  entry: { index: "src/index.ts", "conformance/index": "src/conformance/index.ts" },
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  external: ["vitest"],
});
