import { containerRoutes } from "./container.js";
import { imageRoutes } from "./image.js";
import { runtimeRoutes } from "./runtime.js";
import { sandboxRoutes } from "./sandbox.js";

export type { CriRoute } from "./_route.js";
export { containerRoutes, imageRoutes, runtimeRoutes, sandboxRoutes };

/** Every CRI route of the HTTP/JSON API. */
export const criRoutes = [...runtimeRoutes, ...sandboxRoutes, ...containerRoutes, ...imageRoutes];
