/** @servin/cni: CNI networking for servin pods. */
export {
  type AttachmentRecord,
  type AttachmentState,
  AttachmentStore,
  type PodIdentity,
  type RuntimeConfig,
} from "./attachments.js";
export {
  type CniVersion,
  DEFAULT_BIN_DIRS,
  DEFAULT_CONF_DIR,
  findPlugin,
  listConfigFiles,
  loadNetworkConfig,
  missingPlugins,
  type NetworkConfig,
  type PluginConfig,
  parseNetworkConfig,
  SUPPORTED_CNI_VERSIONS,
} from "./config.js";
export { CniConfigError, CniPluginError, type CniPluginFailure } from "./errors.js";
export { type CniCommand, DEFAULT_PLUGIN_TIMEOUT_MS, invokePlugin, type PluginInvocation } from "./exec.js";
export {
  checkId,
  createNetns,
  DEFAULT_NETNS_DIR,
  listNetns,
  type NetnsEntry,
  netnsMountPoint,
  netnsPath,
  removeNetns,
} from "./netns.js";
export {
  type Attachment,
  CniNetwork,
  type CniNetworkOptions,
  cniArgs,
  type ReconcileReport,
  type SetupRequest,
} from "./network.js";
export {
  type CniDns,
  type CniInterface,
  type CniIpConfig,
  type CniResult,
  parseResult,
  podIps,
} from "./result.js";
export { ConfigWatcher, type ConfigWatcherOptions, type NetworkStatus } from "./watcher.js";
