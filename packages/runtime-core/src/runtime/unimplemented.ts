/** The RPCs this runtime cannot serve yet: each answers Unimplemented with the reason, never a fake success. */
import type {
  CallOptions,
  CheckpointContainerRequest,
  Empty,
  ListMetricDescriptorsResponse,
  ListPodSandboxMetricsResponse,
} from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import type { RuntimeContext } from "../_context.js";

/** CheckpointContainer RPC: would need CRIU support in the backend. */
export async function checkpointContainer(
  _ctx: RuntimeContext,
  _req: CheckpointContainerRequest,
  _opts?: CallOptions,
): Promise<Empty> {
  throw CriError.unimplemented("CheckpointContainer", "container checkpointing (CRIU) is not supported");
}

/** ListPodSandboxMetrics RPC: the Prometheus-style per-pod metrics are not collected. */
export async function listPodSandboxMetrics(
  _ctx: RuntimeContext,
  _req: Empty,
  _opts?: CallOptions,
): Promise<ListPodSandboxMetricsResponse> {
  throw CriError.unimplemented(
    "ListPodSandboxMetrics",
    "per-pod metrics are not collected; use ListPodSandboxStats",
  );
}

/**
 * ListMetricDescriptors RPC: Unimplemented rather than an empty list, so
 * that a kubelet with PodAndContainerStatsFromCRI sees clearly that the
 * metrics path is unsupported instead of concluding there are no metrics.
 */
export async function listMetricDescriptors(
  _ctx: RuntimeContext,
  _req: Empty,
  _opts?: CallOptions,
): Promise<ListMetricDescriptorsResponse> {
  throw CriError.unimplemented(
    "ListMetricDescriptors",
    "per-pod metrics are not collected; use ListPodSandboxStats",
  );
}
