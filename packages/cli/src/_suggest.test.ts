import { describe, expect, it } from "vitest";
import { editDistance, suggest } from "./_suggest.js";

describe("suggest", () => {
  it("measures Levenshtein distance, case-insensitively", () => {
    expect(editDistance("pul", "pull")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("PS", "ps")).toBe(0);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("suggests the closest candidate within 2 edits, or one the input starts", () => {
    const commands = ["pull", "ps", "pods", "images", "inspect", "inspectp", "port-forward"];
    expect(suggest("pul", commands)).toBe("pull");
    expect(suggest("imgaes", commands)).toBe("images");
    expect(suggest("inspec", commands)).toBe("inspect");
    expect(suggest("port", commands)).toBe("port-forward");
    expect(suggest("al", ["all", "pod"])).toBe("all");
    expect(suggest("zzzzzz", commands)).toBeUndefined();
    // an exact name is no suggestion
    expect(suggest("ps", ["ps"])).toBeUndefined();
  });
});
