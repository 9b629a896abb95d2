/** The RPC table covers every method of the .proto, and v1alpha2 is the same API under another package. */
import { describe, expect, it } from "vitest";
import { IMAGE_METHODS, RUNTIME_METHODS } from "../src/_rpc-table.js";
import { criServiceDefinitions } from "../src/proto.js";

describe("rpc table", () => {
  const v1 = criServiceDefinitions("v1");

  it("knows every RuntimeService and ImageService method of the proto", () => {
    expect(Object.keys(v1.RuntimeService).sort()).toEqual(Object.keys(RUNTIME_METHODS).sort());
    expect(Object.keys(v1.ImageService).sort()).toEqual(Object.keys(IMAGE_METHODS).sort());
  });

  it("marks exactly the streaming methods as streams", () => {
    for (const [name, def] of Object.entries({ ...v1.RuntimeService, ...v1.ImageService })) {
      const spec = RUNTIME_METHODS[name] ?? IMAGE_METHODS[name];
      const streaming = spec?.kind === "events" || spec?.kind === "list-stream";
      if (spec?.kind !== "unimplemented") expect(def.responseStream, name).toBe(streaming);
    }
  });

  it("serves v1alpha2 with the same methods and serializers under runtime.v1alpha2", () => {
    const alpha = criServiceDefinitions("v1alpha2");
    expect(Object.keys(alpha.RuntimeService)).toEqual(Object.keys(v1.RuntimeService));
    expect(alpha.RuntimeService.Version!.path).toBe("/runtime.v1alpha2.RuntimeService/Version");
    expect(alpha.ImageService.PullImage!.path).toBe("/runtime.v1alpha2.ImageService/PullImage");
    expect(v1.RuntimeService.Version!.path).toBe("/runtime.v1.RuntimeService/Version");
    expect(alpha.RuntimeService.Version!.responseSerialize).toBe(
      v1.RuntimeService.Version!.responseSerialize,
    );
  });
});
