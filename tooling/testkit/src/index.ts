/** @servin/testkit: offline OCI test images from busybox-static and a local docker-registry for tests. */

export {
  CRICTL,
  type CrictlPortForward,
  type CrictlResult,
  crictlAttachUntil,
  crictlInTerminal,
  crictlPortForward,
  roundTrip,
  runCrictl,
} from "./crictl.js";
export {
  BOMB_BYTES,
  BUSYBOX_PATH,
  buildHostileImages,
  buildTestImages,
  DEEP_PATH,
  GNU_LONG_PATH,
  GROUP,
  type HostileCase,
  PASSWD,
  type TestImages,
} from "./images.js";
export { type BuiltImage, type BuiltLayer, hasZstd, type LayerInput, MEDIA, OciLayout } from "./layout.js";
export { canProbeAsNobody, NOBODY, probeAsNobody, walkPaths } from "./nobody-probe.js";
export {
  type Fault,
  freePort,
  pushLayout,
  type RequestRecord,
  registryToolsAvailable,
  type StartRegistryOptions,
  startRegistry,
  type TestRegistry,
} from "./registry.js";
export { buildTar, DEFAULT_MTIME, type TarSpec } from "./tar.js";
