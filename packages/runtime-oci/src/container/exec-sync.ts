/** ExecSync: `runtime exec` with the CRI timeout; a timeout kills the exec'd process and fails with DeadlineExceeded. */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { CriError, type ExecSyncResponse } from "@servin/cri-types";
import type { ContainerRecord } from "@servin/runtime-core";
import { containerState } from "../_container-state.js";
import { type OciContext, paths, runtimeFor } from "../_context.js";
import { execStartFailure } from "./_exec-failure.js";

/** Output kept per stream, like CRI-O's limit for exec sync (16 MiB). */
const MAX_OUTPUT = 16 << 20;

/**
 * On timeout we behave as containerd: the exec'd process is killed and the
 * call fails with DeadlineExceeded (kubelet's prober maps that code to a
 * probe timeout). CRI-O instead answers exit code -1 and "command timed out".
 */
export async function execSync(
  ctx: OciContext,
  container: ContainerRecord,
  cmd: string[],
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<ExecSyncResponse> {
  if (cmd.length === 0) throw CriError.invalidArgument("cmd: expected a non-empty command");
  const state = containerState(ctx, container);
  const runtime = runtimeFor(ctx, state.runtime);
  const st = await runtime.state(container.id);
  if (st?.status !== "running") {
    throw CriError.failedPrecondition(
      `container "${container.id}" is not running (${st?.status ?? "not found"}): cannot exec in it`,
    );
  }
  const pidFile = join(paths.bundle(ctx, container.id), `exec-${randomBytes(6).toString("hex")}.pid`);
  const r = await runtime.exec(container.id, cmd, {
    timeoutMs: Math.max(0, timeoutSeconds) * 1000,
    pidFile,
    maxOutput: MAX_OUTPUT,
    ...(signal ? { signal } : {}),
  });
  if (r.timedOut) {
    throw new CriError(
      "DeadlineExceeded",
      `execSync in container "${container.id}": command ${JSON.stringify(cmd)} timed out after ${timeoutSeconds}s and was killed`,
    );
  }
  if (signal?.aborted) throw new CriError("Aborted", `execSync in container "${container.id}": cancelled`);
  // runc's own "cannot start it" (exit 255 and its log line) answered as docker does: 127/126, runc's reason
  const failure = r.exitCode === 255 ? execStartFailure(Buffer.from(r.stderr).toString("utf8")) : undefined;
  if (failure)
    return {
      stdout: new Uint8Array(r.stdout),
      stderr: Buffer.from(`${failure.message}\n`),
      exitCode: failure.exitCode,
    };
  return { stdout: new Uint8Array(r.stdout), stderr: new Uint8Array(r.stderr), exitCode: r.exitCode };
}
