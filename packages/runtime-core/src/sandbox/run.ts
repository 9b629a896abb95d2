/** RunPodSandbox: reserve the name, persist a pending record, ask the backend, then mark it READY. */
import type { CallOptions, RunPodSandboxRequest, RunPodSandboxResponse, SandboxId } from "@servin/cri-types";
import { CriError, nowNanos } from "@servin/cri-types";
import { checkSandboxConfig } from "../_config-checks.js";
import {
  backendError,
  newSandboxEntry,
  type RuntimeContext,
  sandboxNameKey,
  saveSandbox,
} from "../_context.js";
import { claimOrCreate } from "../_names.js";
import { checkSandboxPaths } from "../_paths.js";
import { UndoSteps } from "../_undo.js";
import type { SandboxRecord } from "../backend.js";
import { emitEvent } from "../events/emit.js";
import { pendingSandboxStatus } from "../store/sandbox-status.js";

/**
 * RunPodSandbox RPC. A retry after the caller's deadline with the same name
 * and config returns the pod the first call went on building (see _names.ts).
 *
 * @example
 * const { podSandboxId } = await runtime.runPodSandbox({
 *   config: { metadata: { name: "web", namespace: "default", uid: "u1", attempt: 0 } },
 * });
 */
export async function runPodSandbox(
  ctx: RuntimeContext,
  req: RunPodSandboxRequest,
  opts?: CallOptions,
): Promise<RunPodSandboxResponse> {
  const config = req.config;
  const name = config?.metadata?.name;
  if (typeof name !== "string" || name === "") {
    throw CriError.invalidArgument("config.metadata.name: expected a non-empty string", [
      { path: "config.metadata.name", message: "expected a non-empty string" },
    ]);
  }
  checkSandboxPaths(config);
  checkSandboxConfig(config);
  const runtimeHandler = req.runtimeHandler ?? "";
  if (runtimeHandler !== "" && !ctx.backend.handlers().includes(runtimeHandler)) {
    throw CriError.invalidArgument(
      `runtimeHandler: no runtime handler "${runtimeHandler}" is configured (known: ${JSON.stringify(["", ...ctx.backend.handlers().filter((h) => h !== "")])})`,
    );
  }
  const key = sandboxNameKey(config.metadata);

  const podSandboxId = await claimOrCreate<SandboxId>({
    registry: ctx.sandboxNames,
    key,
    config: { config, runtimeHandler },
    describe: `pod sandbox name "${key}"`,
    signal: opts?.signal,
    track: (work) => ctx.track(work),
    onAbandonedFailure: (id, err) =>
      ctx.logger.warn(`runPodSandbox: abandoned create of pod sandbox "${id}" failed`, err),
    create: async (id) => {
      const undo = new UndoSteps(ctx.logger);
      undo.add(`runPodSandbox: releasing pod sandbox name "${key}"`, () => ctx.sandboxNames.release(key, id));
      try {
        const record: SandboxRecord = {
          id,
          config,
          runtimeHandler,
          createdAt: nowNanos(),
          backendState: {},
        };
        const entry = newSandboxEntry(record, pendingSandboxStatus());
        ctx.sandboxes.set(id, entry);
        undo.add(`runPodSandbox: dropping pod sandbox "${id}" from the index`, () =>
          ctx.sandboxes.delete(id),
        );
        // Persist BEFORE the backend makes anything, so a crash from here on is cleaned up at the next start.
        await ctx.store.putSandbox({ metadata: record, status: entry.status });
        undo.add(`runPodSandbox: deleting the record of pod sandbox "${id}"`, () =>
          ctx.store.deleteSandbox(id),
        );
        undo.add(`runPodSandbox: removing what the backend made for pod sandbox "${id}"`, async () => {
          await ctx.backend.stopSandbox(entry.record);
          await ctx.backend.removeSandbox(entry.record);
        });
        let result: Awaited<ReturnType<typeof ctx.backend.runSandbox>>;
        try {
          result = await ctx.backend.runSandbox(record, ctx.lifetime);
        } catch (err) {
          throw backendError(`run pod sandbox "${id}"`, err);
        }
        await saveSandbox(
          ctx,
          entry,
          {
            createdAt: nowNanos(),
            state: "SANDBOX_READY",
            stoppedAt: 0n,
            ...(result.network ? { network: result.network } : {}),
          },
          { ...record, backendState: result.backendState },
        );
        undo.clear();
        ctx.logger.info(`pod sandbox "${id}" (${key}) is ready`);
        emitEvent(ctx, id, "CONTAINER_CREATED_EVENT", id);
        emitEvent(ctx, id, "CONTAINER_STARTED_EVENT", id);
      } catch (err) {
        await undo.run();
        throw err;
      }
    },
  });
  return { podSandboxId };
}
