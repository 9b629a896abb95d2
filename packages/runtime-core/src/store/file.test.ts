import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContainerId, ImageId, SandboxId } from "@servin/cri-types";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordingLogger } from "../_test-harness.js";
import { pendingContainerStatus } from "./container-status.js";
import { createFileStore } from "./file.js";
import type { StoredContainer, StoredSandbox } from "./types.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "servin-store-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sandboxId = "1".repeat(64) as SandboxId;
const sandbox: StoredSandbox = {
  metadata: {
    id: sandboxId,
    config: { metadata: { name: "p", namespace: "ns" }, labels: { a: "b" } },
    runtimeHandler: "",
    createdAt: 1_700_000_000_123_456_789n,
    backendState: { netns: "/run/netns/x" },
  },
  status: {
    createdAt: 1_700_000_000_223_456_789n,
    state: "SANDBOX_READY",
    stoppedAt: 0n,
    network: { ip: "10.0.0.2" },
  },
};
const container: StoredContainer = {
  metadata: {
    id: "2".repeat(64) as ContainerId,
    sandboxId,
    config: { metadata: { name: "c" }, image: { image: "busybox" } },
    image: {
      id: `sha256:${"3".repeat(64)}` as ImageId,
      ref: "r",
      repoTags: [],
      repoDigests: [],
      config: {},
      layers: [],
      createdAt: 42n,
    },
    logPath: "",
    createdAt: 7n,
    backendState: {},
  },
  status: { ...pendingContainerStatus(), createdAt: 8n, startedAt: 9n },
};

describe("createFileStore", () => {
  it("round-trips objects (bigint timestamps included) across instances", async () => {
    const a = await createFileStore(dir);
    await a.putSandbox(sandbox);
    await a.putContainer(container);
    await a.close();
    const b = await createFileStore(dir);
    expect(await b.load()).toEqual({ sandboxes: [sandbox], containers: [container] });
  });

  it("writes one versioned JSON file per object and leaves no temp files", async () => {
    const store = await createFileStore(dir);
    await store.putSandbox(sandbox);
    await store.putSandbox({ ...sandbox, status: { ...sandbox.status, state: "SANDBOX_NOTREADY" } });
    expect(await readdir(join(dir, "sandboxes"))).toEqual([`${sandboxId}.json`]);
    const file = JSON.parse(await readFile(join(dir, "sandboxes", `${sandboxId}.json`), "utf8"));
    expect(file).toMatchObject({
      version: 1,
      kind: "sandbox",
      statusVersion: 1,
      status: { state: "SANDBOX_NOTREADY" },
    });
  });

  it("serialises writes to one object in call order", async () => {
    const store = await createFileStore(dir);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.putContainer({ ...container, status: { ...container.status, exitCode: i } }),
      ),
    );
    expect((await store.load()).containers[0]?.status.exitCode).toBe(19);
  });

  it("delete is idempotent", async () => {
    const store = await createFileStore(dir);
    await store.putContainer(container);
    await store.deleteContainer(container.metadata.id);
    await store.deleteContainer(container.metadata.id);
    expect((await store.load()).containers).toEqual([]);
  });

  it("drops temp files of interrupted writes and moves unreadable files aside", async () => {
    const store = await createFileStore(dir);
    await store.putSandbox(sandbox);
    await writeFile(join(dir, "sandboxes", `${sandboxId}.json.tmp-1-abc`), "{half");
    await writeFile(join(dir, "containers", `${"4".repeat(64)}.json`), "not json");
    const logger = recordingLogger();
    const reopened = await createFileStore(dir, { logger });
    expect(await reopened.load()).toEqual({ sandboxes: [sandbox], containers: [] });
    expect(await readdir(join(dir, "sandboxes"))).toEqual([`${sandboxId}.json`]);
    expect(await readdir(join(dir, "containers"))).toEqual([`${"4".repeat(64)}.json.corrupt`]);
    expect(logger.errors[0]).toContain("unreadable");
  });

  it("refuses a file version it does not know", async () => {
    const store = await createFileStore(dir);
    await store.putSandbox(sandbox);
    const path = join(dir, "sandboxes", `${sandboxId}.json`);
    const file = JSON.parse(await readFile(path, "utf8"));
    await writeFile(path, JSON.stringify({ ...file, version: 99 }));
    await expect((await createFileStore(dir)).load()).rejects.toMatchObject({
      code: "Internal",
      message: expect.stringContaining("unsupported version 99"),
    });
  });
});
