/** Routes of the image RPCs. */
import type { CriRoute } from "./_route.js";

export const imageRoutes: CriRoute[] = [
  { path: "/v1/image/list", rpc: "listImages" },
  { path: "/v1/image/status", rpc: "imageStatus" },
  { path: "/v1/image/pull", rpc: "pullImage" },
  { path: "/v1/image/remove", rpc: "removeImage" },
  { path: "/v1/image/fsinfo", rpc: "imageFsInfo" },
];
