/** Names that reach the file system (plugin types, pod IDs, CNI_ARGS values) can never escape their directories or split CNI_ARGS. */
import { describe, expect, it } from "vitest";
import { AttachmentStore } from "./attachments.js";
import { findPlugin, parseNetworkConfig } from "./config.js";
import { checkId, netnsPath } from "./netns.js";
import { cniArgs } from "./network.js";

describe("path and argument injection", () => {
  it.each(["../../bin/sh", "/bin/sh", "a/b", "", ".hidden", "bridge\0"])(
    "a plugin type %j is refused at load time and never looked up",
    async (type) => {
      const text = JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type }] });
      expect(() => parseNetworkConfig(text, "/x/10.conflist")).toThrow(
        "cni config /x/10.conflist: plugins[0].type: expected a plugin name",
      );
      expect(await findPlugin(type, ["/usr/lib/cni"])).toBeUndefined();
    },
  );

  it("a network name with a slash is refused (it names host-local's directory)", () => {
    const text = JSON.stringify({ cniVersion: "1.0.0", name: "../etc", plugins: [{ type: "bridge" }] });
    expect(() => parseNetworkConfig(text, "f")).toThrow("cni config f: name:");
  });

  it.each(["../x", "a/b", "", ".", "..", "x".repeat(256), "a b"])(
    "a pod id %j is InvalidArgument",
    async (id) => {
      expect(() => checkId(id)).toThrow(expect.objectContaining({ code: "InvalidArgument" }));
      expect(() => netnsPath("/run/servin/netns", id)).toThrow(/expected 1-255 letters/);
      await expect(new AttachmentStore("/tmp/none").get(id)).rejects.toMatchObject({
        code: "InvalidArgument",
      });
    },
  );

  it("CNI_ARGS values cannot inject keys", () => {
    const pod = { podName: "web", podNamespace: "default", podUid: "u1" };
    expect(cniArgs("abc", pod)).toBe(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u1",
    );
    expect(() => cniArgs("abc", { ...pod, podName: "web;K8S_POD_NAMESPACE=kube-system" })).toThrow(
      expect.objectContaining({ code: "InvalidArgument" }),
    );
  });
});
