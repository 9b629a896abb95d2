import { packageConfig } from "../../tooling/tsup.package.js";

// `main` is what the servin binary imports: the command tree alone, each command a chunk of its own
// (the dynamic imports), so `servin --version` does not evaluate the daemon's modules that `index` exports.
export default packageConfig({ entry: ["src/index.ts", "src/main.ts"] });
