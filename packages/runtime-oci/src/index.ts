/** @servin/runtime-oci: the Linux RuntimeBackend — OCI specs, bundles, conmon + runc/crun, CRI logs, exec, cgroups. */

export { createOciBackend, type OciBackendOptions } from "./backend.js";
export { type DetectOptions, detectOciHost, type OciHostReport, type RuntimeHandlerInfo } from "./host.js";
export { createConmonMonitor, type Monitor, type MonitorCreateOptions } from "./monitor.js";
export { createRuncRuntime, type ExecResult, type OciRuntime, type RuntimeState } from "./oci-runtime.js";
export { buildContainerSpec, type ContainerSpecInput, resolveCapabilities } from "./spec/container-spec.js";
export { type PodNamespaceModes, podNamespaceModes } from "./spec/namespaces.js";
export { mergeEnv, resolveArgs, resolveCwd } from "./spec/process.js";
export { clampOomScoreAdj, toOciResources } from "./spec/resources.js";
export { buildSandboxSpec, type SandboxSpecInput } from "./spec/sandbox-spec.js";
export {
  chooseSeccompProfile,
  defaultSeccompProfile,
  parseSeccompProfile,
  renderSeccompProfile,
  type SeccompChoice,
  type SeccompHost,
  type SeccompProfileFile,
  seccompArchitectures,
  seccompForSpec,
  seccompProfileName,
} from "./spec/seccomp.js";
export { RUNTIME_DEFAULT_TEMPLATE } from "./spec/seccomp-default.js";
export type { OciSeccomp, OciSpec } from "./spec/types.js";
export { resolveUser } from "./spec/user.js";
