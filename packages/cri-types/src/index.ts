/** @servin/cri-types: the CRI v1 vocabulary shared by every Servin package. No dependencies. */
export * from "./answers.js";
export * from "./common.js";
export * from "./container.js";
export * from "./errors.js";
export * from "./ids.js";
export * from "./image.js";
export * from "./instrument.js";
export * from "./logger.js";
export * from "./sandbox.js";
export * from "./services.js";
export * from "./signals.js";
export * from "./stats.js";
