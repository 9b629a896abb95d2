/** `servin version`: the client's version, then the running server's. */
import { defineCommand } from "citty";
import { consola } from "consola";
import { connect, connectArgs } from "../connect.js";
import { VERSION } from "../version.js";

export const versionCommand = defineCommand({
  args: connectArgs,
  async run({ args }) {
    consola.log(`servin client ${VERSION}`);
    const v = await connect(args, 5000).version({});
    consola.log(`server: ${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion})`);
  },
});
