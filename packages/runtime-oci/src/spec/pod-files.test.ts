import { describe, expect, it } from "vitest";
import { renderHosts, renderResolvConf } from "./pod-files.js";

describe("pod files", () => {
  it("renders resolv.conf from the DNS config, or nothing without one", () => {
    expect(
      renderResolvConf({ servers: ["1.1.1.1", "8.8.8.8"], searches: ["a", "b"], options: ["ndots:2"] }),
    ).toBe("search a b\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions ndots:2\n");
    expect(renderResolvConf(undefined)).toBeUndefined();
    expect(renderResolvConf({})).toBeUndefined();
  });
  it("names the pod in /etc/hosts", () => {
    expect(renderHosts("web")).toContain("127.0.1.1\tweb\n");
    expect(renderHosts("web", ["10.0.0.5"])).toContain("10.0.0.5\tweb\n");
  });
});
