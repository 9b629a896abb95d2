import type { SandboxId } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { createMemoryStore } from "./memory.js";
import { pendingSandboxStatus } from "./sandbox-status.js";

describe("createMemoryStore", () => {
  it("stores deep copies and keeps data after close", async () => {
    const store = createMemoryStore();
    const entry = {
      metadata: {
        id: "a".repeat(64) as SandboxId,
        config: { metadata: { name: "p" } },
        runtimeHandler: "",
        createdAt: 5n,
        backendState: { pid: 1 },
      },
      status: pendingSandboxStatus(),
    };
    await store.putSandbox(entry);
    entry.metadata.backendState.pid = 2;
    await store.close();
    const { sandboxes } = await store.load();
    expect(sandboxes[0]?.metadata.backendState).toEqual({ pid: 1 });
    expect(sandboxes[0]?.metadata.createdAt).toBe(5n);
    await store.deleteSandbox(entry.metadata.id);
    await store.deleteSandbox(entry.metadata.id);
    expect((await store.load()).sandboxes).toEqual([]);
  });
});
