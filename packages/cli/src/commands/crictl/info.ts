/**
 * `servin info`: crictl's info, the runtime's Status (verbose): `{"status": {…}, <info key>: <value>…}`,
 * each verbose info value embedded as the JSON it holds rather than as a string of JSON.
 */
import { encodeResponse } from "@servin/cri-messages";
import { defineCommand } from "citty";
import { connect, connectArgs } from "../../connect.js";
import { formatValue, parseOutputFormat } from "./_output.js";

export const infoCommand = defineCommand({
  args: {
    ...connectArgs,
    output: { type: "string", alias: "o", description: "Output format: json|yaml (default json)" },
    quiet: { type: "boolean", alias: "q", description: "Do not show verbose information" },
  },
  async run({ args }) {
    const format = parseOutputFormat(args.output, ["json", "yaml"], "json");
    const answer = await connect(args, 30_000).status({ verbose: args.quiet !== true });
    const wire = encodeResponse("status", answer, "json") as Record<string, unknown>;
    const out: Record<string, unknown> = { status: wire.status };
    for (const key of ["runtime_handlers", "features"]) if (wire[key] !== undefined) out[key] = wire[key];
    for (const [key, value] of Object.entries(answer.info ?? {})) out[key] = embedded(value);
    process.stdout.write(await formatValue(out, format));
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
