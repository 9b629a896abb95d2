import { packageConfig } from "../../tooling/tsup.package.js";

// `channels` on its own: clients (the CLI) take the framing constants without loading the server.
export default packageConfig({ entry: ["src/index.ts", "src/channels.ts"] });
