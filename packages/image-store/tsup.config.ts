import { packageConfig } from "../../tooling/tsup.package.js";

// The layer-unpack worker is an entry of its own: _unpack-pool.ts starts it from dist/ by file name.
export default packageConfig({ entry: ["src/index.ts", "src/_unpack-worker.ts"] });
