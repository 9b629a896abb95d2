import { describe, expect, it } from "vitest";
import { resolveId } from "./_ids.js";
import { claimOrCreate, NameRegistry } from "./_names.js";

describe("resolveId", () => {
  const ids = ["abc1", "abd2", "ff00"];
  const what = { kind: "pod sandbox", field: "podSandboxId" };
  it("finds exact IDs and unique prefixes", () => {
    expect(resolveId(ids, "ff", what)).toBe("ff00");
    expect(resolveId(ids, "abc", what)).toBe("abc1");
    expect(resolveId(["ab", "abc"], "ab", what)).toBe("ab");
  });
  it("ambiguous → InvalidArgument naming the prefix; none → NotFound; empty → InvalidArgument", () => {
    expect(() => resolveId(ids, "ab", what)).toThrow(
      expect.objectContaining({
        code: "InvalidArgument",
        message: 'podSandboxId: pod sandbox ID prefix "ab" is ambiguous',
      }),
    );
    expect(() => resolveId(ids, "00", what)).toThrow(
      expect.objectContaining({ code: "NotFound", message: 'pod sandbox "00" not found' }),
    );
    expect(() => resolveId(ids, "", what)).toThrow(expect.objectContaining({ code: "InvalidArgument" }));
  });
});

describe("claimOrCreate", () => {
  const base = (
    registry: NameRegistry<string>,
    create: (id: string) => Promise<void>,
    signal?: AbortSignal,
  ) =>
    claimOrCreate({
      registry,
      key: "k",
      config: { a: 1 },
      describe: 'thing name "k"',
      signal,
      track: () => {},
      create,
      onAbandonedFailure: () => {},
    });

  it("an already aborted call creates nothing", async () => {
    const registry = new NameRegistry<string>();
    let created = false;
    await expect(
      base(
        registry,
        async () => {
          created = true;
        },
        AbortSignal.abort(),
      ),
    ).rejects.toMatchObject({ code: "DeadlineExceeded" });
    expect(created).toBe(false);
    expect(registry.get("k")).toBeUndefined();
  });

  it("reports an abandoned create that failed", async () => {
    const registry = new NameRegistry<string>();
    const failures: unknown[] = [];
    let fail!: (err: Error) => void;
    const controller = new AbortController();
    const call = claimOrCreate({
      registry,
      key: "k",
      config: {},
      describe: "x",
      signal: controller.signal,
      track: () => {},
      create: (id) =>
        new Promise<void>((_, reject) => {
          fail = (err) => {
            registry.release("k", id);
            reject(err);
          };
        }),
      onAbandonedFailure: (_id, err) => failures.push(err),
    });
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: "DeadlineExceeded" });
    fail(new Error("late failure"));
    await new Promise((r) => setImmediate(r));
    expect(failures).toEqual([new Error("late failure")]);
    expect(registry.get("k")).toBeUndefined();
  });
});
