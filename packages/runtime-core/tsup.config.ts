import { packageConfig } from "../../tooling/tsup.package.js";

export default packageConfig({
  // The conformance suite is a separate entry so that importing the runtime never loads vitest.
  entry: { index: "src/index.ts", "conformance/index": "src/conformance/index.ts" },
  external: ["vitest"],
});
