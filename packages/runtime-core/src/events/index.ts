/** Container lifecycle events. */
export { DEFAULT_EVENT_BUFFER } from "./hub.js";
