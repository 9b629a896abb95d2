import { packageConfig } from "../../tooling/tsup.package.js";

export default packageConfig();
