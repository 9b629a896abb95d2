/** The RPCs this runtime cannot serve yet: each answers Unimplemented with the reason, never a fake success. */
import type {
  AttachRequest,
  CallOptions,
  CheckpointContainerRequest,
  Empty,
  ExecRequest,
  ListMetricDescriptorsResponse,
  ListPodSandboxMetricsResponse,
  PortForwardRequest,
  StreamingUrlResponse,
} from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import type { RuntimeContext } from "../_context.js";

const NO_STREAMING = "servin has no streaming server yet (use ExecSync for non-interactive commands)";

/** Exec RPC: needs a streaming server to hand kubelet a URL. */
export async function exec(
  _ctx: RuntimeContext,
  _req: ExecRequest,
  _opts?: CallOptions,
): Promise<StreamingUrlResponse> {
  throw CriError.unimplemented("Exec", NO_STREAMING);
}

/** Attach RPC: needs a streaming server. */
export async function attach(
  _ctx: RuntimeContext,
  _req: AttachRequest,
  _opts?: CallOptions,
): Promise<StreamingUrlResponse> {
  throw CriError.unimplemented("Attach", NO_STREAMING);
}

/** PortForward RPC: needs a streaming server (and pod networking). */
export async function portForward(
  _ctx: RuntimeContext,
  _req: PortForwardRequest,
  _opts?: CallOptions,
): Promise<StreamingUrlResponse> {
  throw CriError.unimplemented("PortForward", NO_STREAMING);
}

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
