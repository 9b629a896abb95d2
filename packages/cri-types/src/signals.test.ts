import { describe, expect, it } from "vitest";
import { withCombinedSignal } from "./signals.js";

describe("withCombinedSignal", () => {
  it("aborts with whichever signal aborts first, and its reason", async () => {
    const lifetime = new AbortController();
    const caller = new AbortController();
    const seen = withCombinedSignal(
      lifetime.signal,
      caller.signal,
      (signal) =>
        new Promise<unknown>((resolve) => signal.addEventListener("abort", () => resolve(signal.reason))),
    );
    caller.abort("caller gave up");
    await expect(seen).resolves.toBe("caller gave up");

    const closing = new AbortController();
    const seen2 = withCombinedSignal(
      closing.signal,
      new AbortController().signal,
      (signal) =>
        new Promise<unknown>((resolve) => signal.addEventListener("abort", () => resolve(signal.reason))),
    );
    closing.abort("closing");
    await expect(seen2).resolves.toBe("closing");
  });

  it("hands over an already aborted state and the lifetime itself when there is no caller signal", async () => {
    const lifetime = new AbortController();
    await expect(withCombinedSignal(lifetime.signal, undefined, async (s) => s)).resolves.toBe(
      lifetime.signal,
    );
    const caller = new AbortController();
    caller.abort("before");
    await expect(
      withCombinedSignal(lifetime.signal, caller.signal, async (s) => [s.aborted, s.reason]),
    ).resolves.toEqual([true, "before"]);
  });

  it("removes its listeners from the long-lived signal when the call settles (no AbortSignal.any leak)", async () => {
    const lifetime = new AbortController();
    let added = 0;
    let removed = 0;
    const add = lifetime.signal.addEventListener.bind(lifetime.signal);
    const remove = lifetime.signal.removeEventListener.bind(lifetime.signal);
    lifetime.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++;
      add(...args);
    }) as typeof add;
    lifetime.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      removed++;
      remove(...args);
    }) as typeof remove;
    for (let i = 0; i < 100; i++)
      await withCombinedSignal(lifetime.signal, new AbortController().signal, async () => i);
    await expect(
      withCombinedSignal(lifetime.signal, new AbortController().signal, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(added).toBe(101);
    expect(removed).toBe(101);
  });
});
