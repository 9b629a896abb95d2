/** Shared arguments and the client for commands that talk to a running servin over HTTP. */
import { readFileSync } from "node:fs";
import { type CriClient, createCriClient } from "@servin/cri-http";

export const connectArgs = {
  host: { type: "string", description: "Host of the servin HTTP API", default: "127.0.0.1" },
  port: { type: "string", description: "Port of the servin HTTP API", default: "8080" },
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

export function baseUrlOf(args: ConnectArgs): string {
  if (process.env.SERVIN_URL && args.host === "127.0.0.1" && args.port === "8080")
    return process.env.SERVIN_URL;
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
