/** The simulated RuntimeBackend. */
export * from "./backend.js";
