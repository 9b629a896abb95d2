/**
 * `servin events`: the container event stream (GetContainerEvents, the HTTP API's NDJSON route), one
 * event per record as crictl's `events` prints them, until Ctrl-C (exit 0) or until servin goes away
 * (an error saying so, exit 1).
 */
import { defineCommand } from "citty";
import { baseUrlOf, connect, connectArgs } from "../../connect.js";
import { outputFormat, printStructured } from "../../output/format.js";

export const eventsCommand = defineCommand({
  args: {
    ...connectArgs,
    output: { type: "string", alias: "o", description: "Output format: json|yaml (default json)" },
  },
  async run({ args }) {
    const format = outputFormat(args, ["json", "yaml"], "json");
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once("SIGINT", onSigint);
    try {
      for await (const event of connect(args).getContainerEvents({}, { signal: stop.signal })) {
        if (format === "yaml") process.stdout.write("---\n");
        printStructured("getContainerEvents", event, format);
      }
    } catch (err) {
      if (stop.signal.aborted) return;
      // a CriError says what servin answered (cannot reach it, refused); anything else is the connection breaking
      if ((err as { code?: unknown }).code !== undefined) throw err;
      throw new Error(
        `the event stream ended: servin at ${baseUrlOf(args)} went away (${(err as Error).message})`,
      );
    } finally {
      process.removeListener("SIGINT", onSigint);
    }
    if (!stop.signal.aborted)
      throw new Error(`the event stream ended: servin at ${baseUrlOf(args)} went away`);
  },
});
