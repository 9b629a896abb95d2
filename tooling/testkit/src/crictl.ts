/**
 * Driving the conformance kit's unmodified crictl (1.26.1: client-go over SPDY) in tests: plain runs,
 * `exec -it` in a real terminal (script), `attach` read until some output, `port-forward` with its
 * listener, and a TCP round trip through that listener.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";

/** crictl beside the repository (as CI lays it out), or `SERVIN_CRICTL`. */
export const CRICTL =
  process.env.SERVIN_CRICTL ??
  fileURLToPath(new URL("../../../../shared/conformance/bin/crictl", import.meta.url));

export interface CrictlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `crictl ARGS…` with `input` (or nothing) on its stdin; killed after `timeoutMs`. */
export function runCrictl(
  args: string[],
  opts: { input?: string; timeoutMs: number },
): Promise<CrictlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      CRICTL,
      args,
      { timeout: opts.timeoutMs, maxBuffer: 16 << 20 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(opts.input ?? "");
  });
}

/**
 * `crictl -r ENDPOINT COMMAND` (COMMAND as shell words, e.g. `exec -it ID sh -c '…'`) in a terminal of
 * `cols` x `rows` made by script(1); resolves with its exit code and what the terminal showed.
 */
export function crictlInTerminal(
  endpoint: string,
  command: string,
  size: { cols: number; rows: number },
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      "script",
      ["-qfec", `stty cols ${size.cols} rows ${size.rows}; ${CRICTL} -r ${endpoint} ${command}`, "/dev/null"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.once("close", (code) => resolve({ code: code ?? -1, stdout }));
  });
}

/** `crictl attach ID` until its stdout holds `until` (or it exits), then ends it; resolves with its output. */
export async function crictlAttachUntil(endpoint: string, id: string, until: string): Promise<string> {
  const child = spawn(CRICTL, ["-r", endpoint, "attach", id], { stdio: ["ignore", "pipe", "pipe"] });
  const text = await new Promise<string>((resolve) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(until)) resolve(out);
    });
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("close", () => resolve(out));
  });
  child.kill();
  return text;
}

export interface CrictlPortForward {
  child: ChildProcess;
  /** Waits up to `waitMs` for crictl to say it listens ("Forwarding from"); resolves with its output so far. */
  forwarding(waitMs: number): Promise<string>;
}

/** `crictl port-forward POD LOCAL:REMOTE`, started; end it with `child.kill()`. */
export function crictlPortForward(endpoint: string, pod: string, mapping: string): CrictlPortForward {
  const child = spawn(CRICTL, ["-r", endpoint, "port-forward", pod, mapping], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  return {
    child,
    forwarding: async (waitMs) => {
      for (let i = 0; i < waitMs / 100 && !log.includes("Forwarding from"); i++)
        await new Promise((r) => setTimeout(r, 100));
      return log;
    },
  };
}

/** Sends `payload` to 127.0.0.1:`port` and reads until as many characters came back; then ends the connection. */
export function roundTrip(port: number, payload: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.length >= payload.length) socket.end();
    });
    socket.once("error", reject);
    socket.once("close", () => resolve(text));
    socket.write(payload);
  });
}
