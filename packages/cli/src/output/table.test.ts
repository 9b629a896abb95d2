import { describe, expect, it } from "vitest";
import { age, shortId, tableId } from "./table.js";

const NOW = Date.UTC(2026, 0, 1);
const ago = (ms: number) => age(BigInt(NOW - ms) * 1_000_000n, NOW);

describe("age", () => {
  it("reads like docker and crictl (go-units HumanDuration)", () => {
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    const d = 24 * h;
    expect(ago(200)).toBe("Less than a second ago");
    expect(ago(s)).toBe("1 second ago");
    expect(ago(59 * s)).toBe("59 seconds ago");
    expect(ago(60 * s)).toBe("About a minute ago");
    expect(ago(119 * s)).toBe("About a minute ago");
    expect(ago(2 * m)).toBe("2 minutes ago");
    expect(ago(59 * m)).toBe("59 minutes ago");
    expect(ago(61 * m)).toBe("About an hour ago");
    expect(ago(89 * m)).toBe("About an hour ago");
    expect(ago(91 * m)).toBe("2 hours ago");
    expect(ago(47 * h)).toBe("47 hours ago");
    expect(ago(3 * d)).toBe("3 days ago");
    expect(ago(15 * d)).toBe("2 weeks ago");
    expect(ago(90 * d)).toBe("3 months ago");
    expect(ago(800 * d)).toBe("2 years ago");
    expect(age(0n, NOW)).toBe("");
    // a clock slightly behind the server's is "now", not a negative age
    expect(age(BigInt(NOW + 5000) * 1_000_000n, NOW)).toBe("Less than a second ago");
  });
});

describe("IDs in tables", () => {
  it("truncate to crictl's 13 characters without sha256:, unless asked for whole", () => {
    const id = `sha256:${"ab".repeat(32)}`;
    expect(shortId(id)).toBe("ababababababa");
    expect(tableId(id, true)).toBe("ababababababa");
    expect(tableId(id, false)).toBe(id);
  });
});
