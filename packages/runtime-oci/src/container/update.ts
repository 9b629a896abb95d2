/** UpdateContainerResources: `runtime update`, and config.json kept in step. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { LinuxContainerResources } from "@servin/cri-types";
import { atomicWriteFile } from "@servin/node-kit";
import type { ContainerRecord } from "@servin/runtime-core";
import { containerState } from "../_container-state.js";
import { type OciContext, paths, runtimeFor } from "../_context.js";
import { toOciResources } from "../spec/resources.js";
import type { OciSpec } from "../spec/types.js";

export async function updateContainerResources(
  ctx: OciContext,
  container: ContainerRecord,
  resources: { linux?: LinuxContainerResources },
): Promise<void> {
  if (!resources.linux) return;
  const state = containerState(ctx, container);
  const runtime = runtimeFor(ctx, state.runtime);
  const oci = toOciResources(resources.linux, ctx.cgroupMode);
  const st = await runtime.state(container.id);
  if (st && (st.status === "running" || st.status === "created" || st.status === "paused")) {
    await runtime.update(container.id, oci);
  }
  // Keep config.json in step so that a later inspection shows what applies.
  const specPath = join(paths.bundle(ctx, container.id), "config.json");
  try {
    const spec = JSON.parse(await readFile(specPath, "utf8")) as OciSpec;
    spec.linux.resources = { ...spec.linux.resources, ...oci };
    await atomicWriteFile(specPath, JSON.stringify(spec, null, 2), { mode: 0o644, sync: false });
  } catch {
    // No bundle: nothing to keep in step.
  }
}
