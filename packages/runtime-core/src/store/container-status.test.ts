import { describe, expect, it } from "vitest";
import { containerState, isContainerPending, pendingContainerStatus } from "./container-status.js";

describe("container state derived from timestamps", () => {
  const base = pendingContainerStatus();
  it.each([
    [{}, "CONTAINER_UNKNOWN", true],
    [{ createdAt: 1n }, "CONTAINER_CREATED", false],
    [{ createdAt: 1n, startedAt: 2n }, "CONTAINER_RUNNING", false],
    [{ createdAt: 1n, startedAt: 2n, finishedAt: 3n }, "CONTAINER_EXITED", false],
    // A start that failed never set startedAt but did finish.
    [{ createdAt: 1n, finishedAt: 3n }, "CONTAINER_EXITED", false],
    // unknown wins over everything (containerd's precedence).
    [{ createdAt: 1n, startedAt: 2n, unknown: true }, "CONTAINER_UNKNOWN", false],
    [{ createdAt: 1n, startedAt: 2n, finishedAt: 3n, unknown: true }, "CONTAINER_UNKNOWN", false],
  ])("%o → %s", (patch, state, pending) => {
    const status = { ...base, ...patch };
    expect(containerState(status)).toBe(state);
    expect(isContainerPending(status)).toBe(pending);
  });
});
