/** CreateContainer: reserve the name, resolve the image, persist a pending record, ask the backend. */
import { join } from "node:path";
import type {
  CallOptions,
  ContainerId,
  CreateContainerRequest,
  CreateContainerResponse,
  RuntimeImage,
} from "@servin/cri-types";
import { CriError, isCriError, nowNanos } from "@servin/cri-types";
import { checkContainerConfig } from "../_config-checks.js";
import {
  backendError,
  containerDisplayName,
  containerNameKey,
  findSandbox,
  newContainerEntry,
  type RuntimeContext,
  type SandboxEntry,
  saveContainer,
} from "../_context.js";
import { claimOrCreate } from "../_names.js";
import { checkContainerPaths } from "../_paths.js";
import { UndoSteps } from "../_undo.js";
import type { ContainerRecord } from "../backend.js";
import { emitEvent } from "../events/emit.js";
import { pendingContainerStatus } from "../store/container-status.js";

function requireReady(sandbox: SandboxEntry): void {
  if (sandbox.status.state !== "SANDBOX_READY" || sandbox.stopping) {
    throw CriError.failedPrecondition(
      `pod sandbox "${sandbox.record.id}" is not ready (${sandbox.stopping ? "stopping" : sandbox.status.state}): containers can only be created in a SANDBOX_READY pod`,
    );
  }
}

async function resolveImage(ctx: RuntimeContext, ref: string): Promise<RuntimeImage> {
  try {
    return await ctx.images.resolveImage(ref);
  } catch (err) {
    if (isCriError(err) && err.code === "NotFound") {
      throw new CriError("NotFound", `image "${ref}" not found`, { cause: err });
    }
    throw err;
  }
}

/**
 * CreateContainer RPC. The image is resolved through the ImageResolver and
 * recorded (ID and ref); `logPath` is `sandbox.logDirectory/config.logPath`
 * when both are set. A retry after the caller's deadline with the same name
 * and config returns the container the first call went on building.
 *
 * @example
 * const { containerId } = await runtime.createContainer({
 *   podSandboxId,
 *   config: { metadata: { name: "app" }, image: { image: "busybox:latest" }, command: ["sleep", "3600"] },
 * });
 */
export async function createContainer(
  ctx: RuntimeContext,
  req: CreateContainerRequest,
  opts?: CallOptions,
): Promise<CreateContainerResponse> {
  const config = req.config;
  const name = config?.metadata?.name;
  if (typeof name !== "string" || name === "") {
    throw CriError.invalidArgument("config.metadata.name: expected a non-empty string", [
      { path: "config.metadata.name", message: "expected a non-empty string" },
    ]);
  }
  const imageRef = config.image?.image;
  if (typeof imageRef !== "string" || imageRef === "") {
    throw CriError.invalidArgument("config.image.image: expected a non-empty image reference", [
      { path: "config.image.image", message: "expected a non-empty image reference" },
    ]);
  }
  checkContainerPaths(config);
  checkContainerConfig(config);
  const sandbox = findSandbox(ctx, req.podSandboxId);
  requireReady(sandbox);
  const sandboxId = sandbox.record.id;
  const key = containerNameKey(sandboxId, config.metadata);

  const containerId = await claimOrCreate<ContainerId>({
    registry: ctx.containerNames,
    key,
    config,
    describe: `container name "${containerDisplayName(config.metadata)}" in pod sandbox "${sandboxId}"`,
    signal: opts?.signal,
    track: (work) => ctx.track(work),
    onAbandonedFailure: (id, err) =>
      ctx.logger.warn(`createContainer: abandoned create of container "${id}" failed`, err),
    create: (id) => {
      const undo = new UndoSteps(ctx.logger);
      undo.add(`createContainer: releasing container name "${key}"`, () =>
        ctx.containerNames.release(key, id),
      );
      const work = (async () => {
        // Checked again synchronously with the registration below, so RemovePodSandbox's wait is complete.
        requireReady(sandbox);
        const image = await resolveImage(ctx, imageRef);
        const logDirectory = sandbox.record.config.logDirectory;
        const record: ContainerRecord = {
          id,
          sandboxId,
          config,
          image,
          logPath: logDirectory && config.logPath ? join(logDirectory, config.logPath) : "",
          createdAt: nowNanos(),
          backendState: {},
        };
        const entry = newContainerEntry(record, pendingContainerStatus());
        ctx.containers.set(id, entry);
        undo.add(`createContainer: dropping container "${id}" from the index`, () =>
          ctx.containers.delete(id),
        );
        // Persist BEFORE the backend makes anything, so a crash from here on is cleaned up at the next start.
        await ctx.store.putContainer({ metadata: record, status: entry.status });
        undo.add(`createContainer: deleting the record of container "${id}"`, () =>
          ctx.store.deleteContainer(id),
        );
        undo.add(`createContainer: removing what the backend made for container "${id}"`, () =>
          ctx.backend.removeContainer(entry.record, sandbox.record),
        );
        let result: Awaited<ReturnType<typeof ctx.backend.createContainer>>;
        try {
          result = await ctx.backend.createContainer(record, sandbox.record, ctx.lifetime);
        } catch (err) {
          throw backendError(`create container "${id}"`, err);
        }
        await saveContainer(
          ctx,
          entry,
          { ...entry.status, createdAt: nowNanos() },
          { ...record, backendState: result.backendState },
        );
        undo.clear();
        ctx.logger.info(
          `container "${id}" (${containerDisplayName(config.metadata)}) created in "${sandboxId}"`,
        );
        emitEvent(ctx, id, "CONTAINER_CREATED_EVENT", sandboxId);
      })();
      const done = work.catch(async (err: unknown) => {
        await undo.run();
        throw err;
      });
      const settled: Promise<void> = done.then(
        () => {
          sandbox.creating.delete(settled);
        },
        () => {
          sandbox.creating.delete(settled);
        },
      );
      sandbox.creating.add(settled);
      return done;
    },
  });
  return { containerId };
}
