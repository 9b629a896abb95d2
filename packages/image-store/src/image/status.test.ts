/**
 * ImageStatus and ListImages hand out the same frozen answer while the image (the list) is unchanged, so
 * that the encoders after them keep its bytes; any change gives a new answer.
 */
import { describe, expect, it } from "vitest";
import { republishingBackend } from "../_test-harness.js";
import { createImageService } from "../service.js";

describe("image answers", () => {
  it("stay the same frozen object until the image or the list changes", async () => {
    const s = await createImageService({ backend: republishingBackend() });
    const { imageRef: first } = await s.pullImage({ image: { image: "app:v1" } });
    const status = await s.imageStatus({ image: { image: first } });
    expect(Object.isFrozen(status)).toBe(true);
    expect(await s.imageStatus({ image: { image: "app:v1" } })).toBe(status);
    const list = await s.listImages({});
    expect(Object.isFrozen(list.images)).toBe(true);
    expect(await s.listImages({})).toBe(list);

    // Another image: the first one's answer stays, the list is a new answer.
    await s.pullImage({ image: { image: "other:v1" } });
    expect(await s.imageStatus({ image: { image: first } })).toBe(status);
    const longer = await s.listImages({});
    expect(longer).not.toBe(list);
    expect(longer.images).toHaveLength(2);

    // The tag moves to a new image: the first one, untagged now, answers anew.
    await s.pullImage({ image: { image: "app:v1" } });
    const untagged = await s.imageStatus({ image: { image: first } });
    expect(untagged).not.toBe(status);
    expect(untagged.image?.repoTags).toEqual([]);
    expect(await s.listImages({})).not.toBe(longer);

    // Verbose carries the image's config and layers: never the kept answer.
    const verbose = await s.imageStatus({ image: { image: first }, verbose: true });
    expect(verbose).not.toBe(untagged);
    expect(JSON.parse(verbose.info?.info ?? "{}").layers).toBeDefined();
    expect(await s.imageStatus({ image: { image: "nothing:here" } })).toEqual({});
    await s.close();
  });
});
