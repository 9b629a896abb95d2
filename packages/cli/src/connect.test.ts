import { describe, expect, it } from "vitest";
import { baseUrlOf } from "./connect.js";

describe("baseUrlOf: flag > SERVIN_URL > default", () => {
  const env = { SERVIN_URL: "http://10.0.0.2:9999/" };
  it("uses the default without flags or SERVIN_URL", () => {
    expect(baseUrlOf({}, {})).toBe("http://127.0.0.1:8080");
  });
  it("uses SERVIN_URL when neither --host nor --port is given", () => {
    expect(baseUrlOf({}, env)).toBe("http://10.0.0.2:9999");
  });
  it("lets any flag win over SERVIN_URL, even one equal to the default", () => {
    expect(baseUrlOf({ port: "8080" }, env)).toBe("http://127.0.0.1:8080");
    expect(baseUrlOf({ host: "127.0.0.1" }, env)).toBe("http://127.0.0.1:8080");
    expect(baseUrlOf({ host: "::1", port: "9090" }, env)).toBe("http://[::1]:9090");
  });
});
