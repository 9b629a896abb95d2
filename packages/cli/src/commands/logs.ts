/**
 * `servin logs [-f] [-p] [--tail N] [--since D] [--timestamps] ID`: a container's log through servin's HTTP
 * API (GET /v1/servin/containers/{id}/logs), so it works from any host that can reach the API; stdout
 * and stderr lines go to this process's stdout and stderr, as with docker and crictl.
 */
import { readFileSync } from "node:fs";
import { containerLogs } from "@servin/cri-http";
import { defineCommand } from "citty";
import { baseUrlOf, connectArgs } from "../connect.js";
import { printCriLog } from "../logs/print.js";

export const logsCommand = defineCommand({
  args: {
    ...connectArgs,
    id: { type: "positional", description: "Container ID or prefix", required: true },
    follow: {
      type: "boolean",
      alias: "f",
      description: "Keep printing new lines until the container has exited (follows a rotated log)",
    },
    tail: { type: "string", description: "Only the last N lines (all: -1)" },
    since: {
      type: "string",
      description: "Only lines since a duration ago (10s, 5m, 2h) or an RFC 3339 time",
    },
    timestamps: { type: "boolean", description: "Start each line with its RFC 3339 timestamp" },
    previous: {
      type: "boolean",
      alias: "p",
      description: "The previous instance's log (the container's ATTEMPT-1.log), as crictl logs -p",
    },
  },
  async run({ args }) {
    const tokenFile = args["token-file"];
    const token = tokenFile ? readFileSync(tokenFile, "utf8").trim() : undefined;
    let tail: number | undefined;
    if (args.tail !== undefined && args.tail !== "-1") {
      if (!/^\d+$/.test(args.tail))
        throw new Error(`--tail: expected a whole number of lines, got "${args.tail}"`);
      tail = Number(args.tail);
    }
    const chunks = await containerLogs({ baseUrl: baseUrlOf(args), ...(token ? { token } : {}) }, args.id, {
      format: "cri",
      ...(args.follow ? { follow: true } : {}),
      ...(tail !== undefined ? { tail } : {}),
      ...(args.since !== undefined ? { since: args.since } : {}),
      ...(args.previous ? { previous: true } : {}),
    });
    // The server sends the file's own lines, so that stderr stays stderr.
    await printCriLog(chunks, { timestamps: args.timestamps === true });
  },
});
