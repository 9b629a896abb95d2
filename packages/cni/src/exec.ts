/** Runs one CNI plugin: the CNI_* environment, config on stdin, result or error JSON on stdout, a timeout and an AbortSignal. */
import { spawn } from "node:child_process";
import { isObject } from "./config.js";
import { CniPluginError, type CniPluginFailure } from "./errors.js";

export type CniCommand = "ADD" | "DEL" | "CHECK" | "VERSION";

export interface PluginInvocation {
  /** Path of the plugin executable. */
  path: string;
  /** Plugin type, for messages. */
  type: string;
  command: CniCommand;
  containerId: string;
  /** Empty for a DEL whose netns is gone: plugins then release what they hold outside it (IPAM, iptables). */
  netns: string;
  ifName: string;
  /** `K=V;K=V` (CNI_ARGS). */
  args: string;
  /** Directories searched by the plugin for its delegates (IPAM), `:`-joined into CNI_PATH. */
  binDirs: readonly string[];
  /** The JSON the plugin reads on stdin. */
  stdin: Record<string, unknown>;
  /** Killed (SIGKILL) after this long. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Plugins print small documents; more than this is a broken plugin, not a result. */
const MAX_STDOUT = 4 << 20;
const MAX_STDERR = 64 << 10;
export const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;

/**
 * Executes a plugin and answers its stdout (a result for ADD, usually empty for DEL/CHECK).
 * Failures become a CniPluginError naming the plugin and command, carrying the plugin's
 * `{code, msg, details}` when it printed one.
 *
 * @example
 * const out = await invokePlugin({ path: "/usr/lib/cni/loopback", type: "loopback", command: "ADD",
 *   containerId: "abc", netns: "/run/servin/netns/abc", ifName: "lo", args: "", binDirs: ["/usr/lib/cni"],
 *   stdin: { cniVersion: "1.0.0", name: "lo", type: "loopback" } });
 */
export function invokePlugin(inv: PluginInvocation): Promise<string> {
  const what = `cni plugin "${inv.type}" ${inv.command}`;
  return new Promise((resolve, reject) => {
    if (inv.signal?.aborted) {
      reject(new CniPluginError(inv.type, inv.command, `${what}: aborted before start`, { code: "Aborted" }));
      return;
    }
    const child = spawn(inv.path, [], {
      env: {
        CNI_COMMAND: inv.command,
        CNI_CONTAINERID: inv.containerId,
        CNI_NETNS: inv.netns,
        CNI_IFNAME: inv.ifName,
        CNI_ARGS: inv.args,
        CNI_PATH: inv.binDirs.join(":"),
        PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let ended: { why: string; code: "DeadlineExceeded" | "Aborted" | "Internal" } | undefined;
    const stop = (why: string, code: "DeadlineExceeded" | "Aborted" | "Internal") => {
      if (ended) return;
      ended = { why, code };
      child.kill("SIGKILL");
    };
    const timeoutMs = inv.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
    const timer = setTimeout(() => stop(`timed out after ${timeoutMs} ms`, "DeadlineExceeded"), timeoutMs);
    const onAbort = () => stop("aborted", "Aborted");
    inv.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.length > MAX_STDOUT) stop(`printed more than ${MAX_STDOUT} bytes`, "Internal");
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk.slice(0, MAX_STDERR - stderr.length);
    });
    child.stdin.on("error", () => {}); // a plugin may exit without reading stdin; its exit status tells
    child.stdin.end(JSON.stringify(inv.stdin));
    child.on("error", (err) => {
      clearTimeout(timer);
      inv.signal?.removeEventListener("abort", onAbort);
      reject(
        new CniPluginError(inv.type, inv.command, `${what}: cannot run ${inv.path}: ${err.message}`, {
          cause: err,
        }),
      );
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      inv.signal?.removeEventListener("abort", onAbort);
      if (ended) {
        reject(new CniPluginError(inv.type, inv.command, `${what}: ${ended.why}`, { code: ended.code }));
        return;
      }
      if (status === 0) {
        resolve(stdout);
        return;
      }
      const failure = parseFailure(stdout);
      if (failure) {
        const details = failure.details ? ` (${failure.details})` : "";
        reject(
          new CniPluginError(
            inv.type,
            inv.command,
            `${what} failed: ${failure.msg}${details} [cni error ${failure.code}]`,
            {
              failure,
            },
          ),
        );
        return;
      }
      const exit = signal ? `killed by ${signal}` : `exited with status ${status}`;
      const said = (stderr.trim() || stdout.trim()).slice(0, 1000);
      reject(new CniPluginError(inv.type, inv.command, `${what} failed: ${exit}${said ? `: ${said}` : ""}`));
    });
  });
}

/** The spec's error object, when the plugin printed one. */
function parseFailure(stdout: string): CniPluginFailure | undefined {
  try {
    const doc: unknown = JSON.parse(stdout);
    if (!isObject(doc) || typeof doc.code !== "number") return undefined;
    return {
      code: doc.code,
      msg: typeof doc.msg === "string" ? doc.msg : "",
      ...(typeof doc.details === "string" && doc.details !== "" ? { details: doc.details } : {}),
    };
  } catch {
    return undefined;
  }
}
