/** Metadata stores: the contract, the on-disk store and the in-memory store. */
export * from "./container-status.js";
export * from "./file.js";
export * from "./memory.js";
export * from "./sandbox-status.js";
export * from "./types.js";
