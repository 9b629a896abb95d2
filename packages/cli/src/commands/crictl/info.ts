/**
 * `servin info`: crictl's info, the runtime's Status (verbose): `{"status": {…}, <info key>: <value>…}`,
 * each verbose info value embedded as the JSON it holds rather than as a string of JSON.
 */
import { defineCommand } from "citty";
import { connect, connectArgs } from "../../connect.js";
import { outputFormat, printStructured } from "../../output/format.js";

export const infoCommand = defineCommand({
  args: {
    ...connectArgs,
    output: { type: "string", alias: "o", description: "Output format: json|yaml (default json)" },
    quiet: { type: "boolean", alias: "q", description: "Do not show verbose information" },
  },
  async run({ args }) {
    const format = outputFormat(args, ["json", "yaml"], "json");
    const answer = await connect(args, 30_000).status({ verbose: args.quiet !== true });
    printStructured("status", answer, format, (wire) => {
      const out: Record<string, unknown> = { status: wire.status };
      for (const key of ["runtime_handlers", "features"]) if (wire[key] !== undefined) out[key] = wire[key];
      for (const [key, value] of Object.entries(answer.info ?? {})) out[key] = embedded(value);
      return out;
    });
  },
});

/** An info value as the JSON it holds ({"config": …}), or the plain string when it is not JSON. */
function embedded(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
