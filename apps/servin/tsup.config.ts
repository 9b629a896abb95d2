import { defineConfig } from "tsup";

export default defineConfig({
  entry: { servin: "src/servin.ts" },
  format: ["esm"],
  sourcemap: true,
  clean: true,
  target: "node20",
  banner: { js: "#!/usr/bin/env node" },
});
