/** Shared arguments and the client for commands that talk to a running servin over HTTP. */
import { readFileSync } from "node:fs";
import { type CriClient, createCriClient } from "@servin/cri-http";

export const connectArgs = {
  // No citty defaults: an explicit `--port 8080` must win over SERVIN_URL, so "not given" has to show.
  host: { type: "string", description: "Host of the servin HTTP API (default 127.0.0.1, or SERVIN_URL's)" },
  port: { type: "string", description: "Port of the servin HTTP API (default 8080, or SERVIN_URL's)" },
  "token-file": {
    type: "string",
    description: "File holding the bearer token (when the server requires one)",
  },
} as const;

export interface ConnectArgs {
  host?: string;
  port?: string;
  "token-file"?: string;
}

/**
 * The servin URL a command talks to: `--host`/`--port` when either is given, else SERVIN_URL, else
 * http://127.0.0.1:8080 (flag > environment > default; the client reads no config file).
 *
 * @example
 * baseUrlOf({ port: "9090" }, { SERVIN_URL: "http://10.0.0.2:8080" }); // "http://127.0.0.1:9090"
 */
export function baseUrlOf(args: ConnectArgs, env: Record<string, string | undefined> = process.env): string {
  if (args.host === undefined && args.port === undefined && env.SERVIN_URL)
    return env.SERVIN_URL.replace(/\/+$/, "");
  const host = args.host ?? "127.0.0.1";
  return `http://${host.includes(":") ? `[${host}]` : host}:${args.port ?? "8080"}`;
}

export function connect(args: ConnectArgs, timeoutMs?: number): CriClient {
  const tokenFile = args["token-file"];
  const token = tokenFile ? readFileSync(tokenFile, "utf8").trim() : undefined;
  return createCriClient({
    baseUrl: baseUrlOf(args),
    ...(token ? { token } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}
