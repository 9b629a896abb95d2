import type { ImageSpec } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { republishingBackend } from "../_test-harness.js";
import { createImageService } from "../service.js";

describe("removeImage and tag moves", () => {
  it("a tag pulled again moves to the new image; the old one, nameless, is dropped", async () => {
    const s = await createImageService({ backend: republishingBackend() });
    const { imageRef: old } = await s.pullImage({ image: { image: "app:v1" } });
    const { imageRef: fresh } = await s.pullImage({ image: { image: "app:v1" } });
    expect(fresh).not.toBe(old);
    // The old image keeps its repo digest (a name), so it stays, untagged.
    const images = (await s.listImages({})).images;
    expect(images.map((i) => [i.id, i.repoTags])).toEqual([
      [old, []],
      [fresh, ["docker.io/library/app:v1"]],
    ]);
    // Removing the old image's last name (its digest) deletes it.
    await s.removeImage({ image: { image: images[0]!.repoDigests[0]! } });
    expect((await s.listImages({})).images.map((i) => i.id)).toEqual([fresh]);
    await s.close();
  });

  it("an image in use is refused with FailedPrecondition naming it; an unknown one is success", async () => {
    const s = await createImageService({ backend: republishingBackend(), isImageInUse: () => true });
    const { imageRef } = await s.pullImage({ image: { image: "app:v1" } });
    await expect(s.removeImage({ image: { image: imageRef } })).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: `image "${imageRef}" (${imageRef}) is in use by a container; remove the container first`,
    });
    await expect(s.removeImage({ image: { image: "never-pulled:v1" } })).resolves.toEqual({});
    await expect(s.removeImage({ image: {} as ImageSpec })).rejects.toMatchObject({
      code: "InvalidArgument",
    });
    await s.close();
  });
});
