/** Client side of servin's HTTP extensions for `servin run` and `servin logs`: GET /v1/servin/info and a container's logs. */
import { CriError } from "@servin/cri-types";
import type { CriClientOptions } from "./client.js";
import { criErrorFromBody } from "./errors.js";

/** What GET /v1/servin/info answers (servin extension; every field optional for older servers). */
export interface ServinInfo {
  /** Where `servin run` puts its pods' log directories on the server's host. */
  podLogRoot?: string;
  [key: string]: unknown;
}

/** The query of a logs request (see `parseLogQuery` on the server side). */
export interface ContainerLogRequest {
  follow?: boolean;
  tail?: number;
  /** A duration back from now (`10s`, `5m`) or an RFC 3339 time. */
  since?: string;
  timestamps?: boolean;
  /** `cri` answers the file's own lines (`<time> <stream> <tag> <content>`), to tell stdout from stderr. */
  format?: "text" | "cri";
  /** The previous instance's log (`NAME/(ATTEMPT-1).log`), as `crictl logs --previous`. */
  previous?: boolean;
}

function headersOf(options: CriClientOptions): Record<string, string> {
  return options.token ? { authorization: `Bearer ${options.token}` } : {};
}

async function get(options: CriClientOptions, path: string, signal?: AbortSignal): Promise<Response> {
  const base = options.baseUrl.replace(/\/+$/, "");
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(`${base}${path}`, {
      headers: headersOf(options),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new CriError(
      "Unavailable",
      `cannot reach servin at ${base}: ${cause === "ECONNREFUSED" ? "connection refused (is `servin cri start` running?)" : (cause ?? String(err))}`,
      { cause: err },
    );
  }
  if (!response.ok) throw criErrorFromBody(response.status, await response.json().catch(() => undefined));
  return response;
}

/**
 * GET /v1/servin/info: the server's facts a client needs (its pod log root…).
 *
 * @example
 * const { podLogRoot } = await servinInfo({ baseUrl: "http://127.0.0.1:8080" });
 */
export async function servinInfo(options: CriClientOptions): Promise<ServinInfo> {
  const response = await get(options, "/v1/servin/info", AbortSignal.timeout(options.timeoutMs ?? 120_000));
  return (await response.json()) as ServinInfo;
}

/**
 * A container's log as it is served (chunks of whole lines); with `follow` it ends once the container
 * has exited and every line was sent. Rejects before the first chunk for a missing container (NotFound).
 *
 * @example
 * for await (const chunk of await containerLogs({ baseUrl }, id, { tail: 10 })) process.stdout.write(chunk);
 */
export async function containerLogs(
  options: CriClientOptions,
  containerId: string,
  req: ContainerLogRequest = {},
  signal?: AbortSignal,
): Promise<AsyncIterable<Uint8Array>> {
  const params = new URLSearchParams();
  if (req.follow) params.set("follow", "1");
  if (req.tail !== undefined) params.set("tail", String(req.tail));
  if (req.since !== undefined) params.set("since", req.since);
  if (req.timestamps) params.set("timestamps", "1");
  if (req.format) params.set("format", req.format);
  if (req.previous) params.set("previous", "1");
  const query = params.size > 0 ? `?${params}` : "";
  const response = await get(
    options,
    `/v1/servin/containers/${encodeURIComponent(containerId)}/logs${query}`,
    signal,
  );
  if (!response.body) throw new CriError("Unavailable", "the logs answer had no body");
  return response.body as unknown as AsyncIterable<Uint8Array>;
}
