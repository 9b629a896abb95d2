/** servin's version, read once from the CLI package's package.json (bundled at build time). */
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
