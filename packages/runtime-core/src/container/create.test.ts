import { afterEach, describe, expect, it } from "vitest";
import { BUSYBOX_ID, containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function pod(harness: Harness, logDirectory?: string) {
  return (
    await harness.runtime.runPodSandbox({
      config: podConfig(undefined, logDirectory ? { logDirectory } : {}),
    })
  ).podSandboxId;
}

describe("createContainer", () => {
  it("resolves the image, records its ID and ref, joins the log path", async () => {
    h = await createHarness();
    const podSandboxId = await pod(h, "/var/log/pods/ns_pod_uid");
    const { containerId } = await h.runtime.createContainer({
      podSandboxId,
      config: containerConfig("app", { logPath: "app/0.log" }),
    });
    const { status } = await h.runtime.containerStatus({ containerId });
    expect(status).toMatchObject({
      state: "CONTAINER_CREATED",
      imageId: BUSYBOX_ID,
      imageRef: `docker.io/library/busybox@sha256:${"c".repeat(64)}`,
      image: { image: "docker.io/library/busybox:latest" },
      logPath: "/var/log/pods/ns_pod_uid/app/0.log",
    });
    const stored = (await h.store.load()).containers[0]!;
    expect(stored.metadata.image.id).toBe(BUSYBOX_ID);
    expect(stored.metadata.backendState).toMatchObject({ simulated: true, argv: ["sleep", "3600"] });
    expect(h.runtime.isImageInUse(BUSYBOX_ID)).toBe(true);
  });

  it("leaves logPath empty unless both the directory and the path are set", async () => {
    h = await createHarness();
    const podSandboxId = await pod(h);
    const { containerId } = await h.runtime.createContainer({
      podSandboxId,
      config: containerConfig("app", { logPath: "app/0.log" }),
    });
    expect((await h.runtime.containerStatus({ containerId })).status.logPath).toBe("");
  });

  it("an unknown image is NotFound naming the reference, and releases the name", async () => {
    h = await createHarness();
    const podSandboxId = await pod(h);
    await expect(
      h.runtime.createContainer({
        podSandboxId,
        config: containerConfig("x", { image: { image: "nope:1" } }),
      }),
    ).rejects.toMatchObject({ code: "NotFound", message: 'image "nope:1" not found' });
    await h.runtime.createContainer({ podSandboxId, config: containerConfig("x") });
  });

  it("validates the name and the image reference", async () => {
    h = await createHarness();
    const podSandboxId = await pod(h);
    await expect(
      h.runtime.createContainer({ podSandboxId, config: containerConfig("") }),
    ).rejects.toMatchObject({
      code: "InvalidArgument",
      message: expect.stringContaining("config.metadata.name"),
    });
    await expect(
      h.runtime.createContainer({ podSandboxId, config: containerConfig("a", { image: { image: "" } }) }),
    ).rejects.toMatchObject({
      code: "InvalidArgument",
      message: expect.stringContaining("config.image.image"),
    });
  });

  it("refuses a NOTREADY pod with FailedPrecondition", async () => {
    h = await createHarness();
    const podSandboxId = await pod(h);
    await h.runtime.stopPodSandbox({ podSandboxId });
    await expect(
      h.runtime.createContainer({ podSandboxId, config: containerConfig("a") }),
    ).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("SANDBOX_NOTREADY"),
    });
  });

  it("undoes everything when the backend fails", async () => {
    h = await createHarness();
    const podSandboxId = await pod(h);
    h.backend.failNext("createContainer", new Error("no space left on device"));
    await expect(
      h.runtime.createContainer({ podSandboxId, config: containerConfig("a") }),
    ).rejects.toMatchObject({
      code: "Internal",
      message: expect.stringContaining("no space left on device"),
    });
    expect((await h.store.load()).containers).toEqual([]);
    expect(h.backend.containerIds()).toEqual([]);
    expect(h.runtime.isImageInUse(BUSYBOX_ID)).toBe(false);
    await h.runtime.createContainer({ podSandboxId, config: containerConfig("a") });
  });

  it("a retry after the deadline with the same name and config returns the abandoned create's container", async () => {
    h = await createHarness();
    const podSandboxId = await pod(h);
    const release = h.backend.hold("createContainer");
    const first = new AbortController();
    const firstCall = h.runtime.createContainer(
      { podSandboxId, config: containerConfig("slow") },
      { signal: first.signal },
    );
    await new Promise((r) => setImmediate(r));
    first.abort();
    await expect(firstCall).rejects.toMatchObject({ code: "DeadlineExceeded" });
    const retry = h.runtime.createContainer({ podSandboxId, config: containerConfig("slow") });
    release();
    const { containerId } = await retry;
    expect((await h.runtime.listContainers({})).containers.map((c) => c.id)).toEqual([containerId]);
  });

  it("parallel creates with one name: exactly one wins", async () => {
    h = await createHarness();
    const podSandboxId = await pod(h);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () =>
        h.runtime.createContainer({ podSandboxId, config: containerConfig("same") }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(
      results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.code),
    ).toEqual(Array(7).fill("AlreadyExists"));
  });
});
