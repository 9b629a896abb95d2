/** `servin start ID…`: crictl's start, StartContainer for each created container; prints each ID. */
import { defineCommand } from "citty";
import { connect, connectArgs } from "../../connect.js";

export const startContainerCommand = defineCommand({
  args: {
    ...connectArgs,
    id: { type: "positional", description: "Container ID(s) or prefixes", required: true },
  },
  async run({ args }) {
    const cri = connect(args, 10 * 60_000);
    for (const id of new Set(args._)) {
      await cri.startContainer({ containerId: id });
      process.stdout.write(`${id}\n`);
    }
  },
});
