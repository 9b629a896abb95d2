/**
 * Wire compatibility: messages encoded with our .proto (through proto-loader)
 * are decoded by an independent reader and checked against the field numbers
 * of the public Kubernetes CRI (k8s.io/cri-api runtime/v1). The expectations
 * are fixed numbers, so a wrong number in runtime_v1.proto fails here.
 */
import { describe, expect, it } from "vitest";
import { criServiceDefinitions } from "../src/proto.js";
import {
  bytes,
  type Fields,
  int,
  msg,
  msgs,
  packed,
  readFields,
  str,
  stringMap,
  strs,
  varint,
  varintOr0,
  writeMessage,
} from "./_protowire.js";

const { RuntimeService, ImageService } = criServiceDefinitions("v1");

function encodeRequest(service: typeof RuntimeService, method: string, value: unknown): Fields {
  const def = service[method];
  if (!def) throw new Error(`no method ${method}`);
  return readFields(def.requestSerialize(value));
}
function encodeResponse(service: typeof RuntimeService, method: string, value: unknown): Fields {
  const def = service[method];
  if (!def) throw new Error(`no method ${method}`);
  return readFields(def.responseSerialize(value));
}

const TS = "1700000000123456789";

describe("wire: pod sandbox messages", () => {
  it("RunPodSandboxRequest and PodSandboxConfig use the CRI field numbers", () => {
    const top = encodeRequest(RuntimeService, "RunPodSandbox", {
      config: {
        metadata: { name: "web", uid: "uid-1", namespace: "ns-1", attempt: 3 },
        hostname: "host-1",
        logDirectory: "/var/log/pods/ns_web_uid",
        dnsConfig: { servers: ["10.0.0.10"], searches: ["svc.local"], options: ["ndots:5"] },
        portMappings: [{ protocol: "UDP", containerPort: 53, hostPort: 5353, hostIp: "127.0.0.1" }],
        labels: { app: "web" },
        annotations: { note: "kept" },
        linux: {
          cgroupParent: "/kubepods/pod1",
          securityContext: {
            namespaceOptions: { network: "NODE", pid: "CONTAINER", ipc: "POD", targetId: "t1" },
            selinuxOptions: { user: "u", role: "r", type: "t", level: "s0" },
            runAsUser: { value: "1000" },
            runAsGroup: { value: "2000" },
            readonlyRootfs: true,
            supplementalGroups: ["5", "6"],
            privileged: true,
            seccomp: { profileType: "Localhost", localhostRef: "/p.json" },
            apparmor: { profileType: "Unconfined" },
            seccompProfilePath: "runtime/default",
          },
          sysctls: { "net.ipv4.ip_forward": "1" },
        },
      },
      runtimeHandler: "runc",
    });
    expect(str(top, 2)).toBe("runc");
    const config = msg(top, 1);
    const metadata = msg(config, 1);
    expect([str(metadata, 1), str(metadata, 2), str(metadata, 3), varint(metadata, 4)]).toEqual([
      "web",
      "uid-1",
      "ns-1",
      3n,
    ]);
    expect(str(config, 2)).toBe("host-1");
    expect(str(config, 3)).toBe("/var/log/pods/ns_web_uid");
    const dns = msg(config, 4);
    expect([strs(dns, 1), strs(dns, 2), strs(dns, 3)]).toEqual([["10.0.0.10"], ["svc.local"], ["ndots:5"]]);
    const [port] = msgs(config, 5);
    expect([varint(port!, 1), varint(port!, 2), varint(port!, 3), str(port!, 4)]).toEqual([
      1n, // UDP
      53n,
      5353n,
      "127.0.0.1",
    ]);
    expect(stringMap(config, 6)).toEqual({ app: "web" });
    expect(stringMap(config, 7)).toEqual({ note: "kept" });
    const linux = msg(config, 8);
    expect(str(linux, 1)).toBe("/kubepods/pod1");
    expect(stringMap(linux, 3)).toEqual({ "net.ipv4.ip_forward": "1" });
    const sc = msg(linux, 2);
    const ns = msg(sc, 1);
    expect([varint(ns, 1), varint(ns, 2), varintOr0(ns, 3), str(ns, 4)]).toEqual([2n, 1n, 0n, "t1"]);
    const selinux = msg(sc, 2);
    expect([str(selinux, 1), str(selinux, 2), str(selinux, 3), str(selinux, 4)]).toEqual([
      "u",
      "r",
      "t",
      "s0",
    ]);
    expect(varint(msg(sc, 3), 1)).toBe(1000n);
    expect(varint(msg(sc, 8), 1)).toBe(2000n); // run_as_group is 8 in the sandbox context
    expect(varint(sc, 4)).toBe(1n);
    expect(packed(sc, 5)).toEqual([5n, 6n]);
    expect(varint(sc, 6)).toBe(1n);
    expect(str(sc, 7)).toBe("runtime/default");
    const seccomp = msg(sc, 9);
    expect([varint(seccomp, 1), str(seccomp, 2)]).toEqual([2n, "/p.json"]);
    expect(varint(msg(sc, 10), 1)).toBe(1n);
  });

  it("PodSandboxStatusResponse: status, info, containers_statuses, timestamp", () => {
    const top = encodeResponse(RuntimeService, "PodSandboxStatus", {
      status: {
        id: "a".repeat(64),
        metadata: { name: "web", uid: "u", namespace: "n", attempt: 1 },
        state: "SANDBOX_NOTREADY",
        createdAt: TS,
        network: { ip: "10.88.0.2", additionalIps: [{ ip: "fd00::2" }] },
        linux: { namespaces: { options: { network: "NODE" } } },
        labels: { l: "1" },
        annotations: { a: "2" },
        runtimeHandler: "runc",
      },
      info: { info: '{"pid":1}' },
      containersStatuses: [{ id: "c1" }],
      timestamp: TS,
    });
    const status = msg(top, 1);
    expect(str(status, 1)).toBe("a".repeat(64));
    expect(str(msg(status, 2), 1)).toBe("web");
    expect(varint(status, 3)).toBe(1n);
    expect(int(status, 4)).toBe(BigInt(TS));
    const network = msg(status, 5);
    expect(str(network, 1)).toBe("10.88.0.2");
    expect(str(msgs(network, 2)[0]!, 1)).toBe("fd00::2");
    // Namespace.options is field 2 (there is no field 1).
    expect(varint(msg(msg(msg(status, 6), 1), 2), 1)).toBe(2n);
    expect(stringMap(status, 7)).toEqual({ l: "1" });
    expect(stringMap(status, 8)).toEqual({ a: "2" });
    expect(str(status, 9)).toBe("runc");
    expect(stringMap(top, 2)).toEqual({ info: '{"pid":1}' });
    expect(str(msgs(top, 3)[0]!, 1)).toBe("c1");
    expect(int(top, 4)).toBe(BigInt(TS));
  });

  it("ListPodSandboxRequest filter and PodSandbox items", () => {
    const req = encodeRequest(RuntimeService, "ListPodSandbox", {
      filter: { id: "abc", state: { state: "SANDBOX_NOTREADY" }, labelSelector: { app: "web" } },
    });
    const filter = msg(req, 1);
    expect(str(filter, 1)).toBe("abc");
    expect(varint(msg(filter, 2), 1)).toBe(1n);
    expect(stringMap(filter, 3)).toEqual({ app: "web" });

    const res = encodeResponse(RuntimeService, "ListPodSandbox", {
      items: [
        {
          id: "p1",
          metadata: { name: "web" },
          state: "SANDBOX_NOTREADY",
          createdAt: TS,
          labels: { k: "v" },
          annotations: { x: "y" },
          runtimeHandler: "h",
        },
      ],
    });
    const item = msgs(res, 1)[0]!;
    expect([str(item, 1), str(msg(item, 2), 1), varint(item, 3), int(item, 4)]).toEqual([
      "p1",
      "web",
      1n,
      BigInt(TS),
    ]);
    expect([stringMap(item, 5), stringMap(item, 6), str(item, 7)]).toEqual([{ k: "v" }, { x: "y" }, "h"]);
  });
});

describe("wire: container messages", () => {
  it("CreateContainerRequest and ContainerConfig use the CRI field numbers", () => {
    const top = encodeRequest(RuntimeService, "CreateContainer", {
      podSandboxId: "pod-1",
      config: {
        metadata: { name: "app", attempt: 2 },
        image: {
          image: "busybox:latest",
          userSpecifiedImage: "busybox",
          runtimeHandler: "rh",
          imageRef: "sha256:x",
        },
        command: ["/bin/sh"],
        args: ["-c", "sleep 1"],
        workingDir: "/work",
        envs: [{ key: "A", value: "1" }],
        mounts: [
          {
            containerPath: "/data",
            hostPath: "/srv/data",
            readonly: true,
            selinuxRelabel: true,
            propagation: "PROPAGATION_BIDIRECTIONAL",
            uidMappings: [{ hostId: 100000, containerId: 0, length: 65536 }],
            recursiveReadOnly: true,
            imageSubPath: "sub",
          },
        ],
        devices: [{ containerPath: "/dev/fuse", hostPath: "/dev/fuse", permissions: "rwm" }],
        labels: { l: "1" },
        annotations: { a: "1" },
        logPath: "app/0.log",
        stdin: true,
        stdinOnce: true,
        tty: true,
        linux: {
          resources: {
            cpuPeriod: "100000",
            cpuQuota: "50000",
            cpuShares: "512",
            memoryLimitInBytes: "67108864",
            oomScoreAdj: "-998",
            cpusetCpus: "0-1",
            cpusetMems: "0",
            hugepageLimits: [{ pageSize: "2MB", limit: "4194304" }],
            unified: { "memory.high": "1" },
            memorySwapLimitInBytes: "134217728",
          },
          securityContext: {
            capabilities: { addCapabilities: ["NET_ADMIN"], dropCapabilities: ["ALL"] },
            privileged: true,
            namespaceOptions: { pid: "TARGET", targetId: "c0" },
            runAsUser: { value: "1000" },
            runAsGroup: { value: "3000" },
            runAsUsername: "nobody",
            readonlyRootfs: true,
            supplementalGroups: ["7"],
            noNewPrivs: true,
            maskedPaths: ["/proc/kcore"],
            readonlyPaths: ["/proc/sys"],
            seccomp: { profileType: "RuntimeDefault" },
            apparmor: { profileType: "Localhost", localhostRef: "prof" },
            apparmorProfile: "old-aa",
            seccompProfilePath: "old-sc",
            supplementalGroupsPolicy: "Strict",
          },
        },
        CDIDevices: [{ name: "vendor.com/gpu=0" }],
        stopSignal: "SIGTERM",
      },
      sandboxConfig: { metadata: { name: "web" } },
    });
    expect(str(top, 1)).toBe("pod-1");
    expect(str(msg(msg(top, 3), 1), 1)).toBe("web");
    const c = msg(top, 2);
    expect([str(msg(c, 1), 1), varint(msg(c, 1), 2)]).toEqual(["app", 2n]);
    const image = msg(c, 2);
    expect([str(image, 1), str(image, 18), str(image, 19), str(image, 20)]).toEqual([
      "busybox:latest",
      "busybox",
      "rh",
      "sha256:x",
    ]);
    expect(strs(c, 3)).toEqual(["/bin/sh"]);
    expect(strs(c, 4)).toEqual(["-c", "sleep 1"]);
    expect(str(c, 5)).toBe("/work");
    const env = msgs(c, 6)[0]!;
    expect([str(env, 1), str(env, 2)]).toEqual(["A", "1"]);
    const mount = msgs(c, 7)[0]!;
    expect([str(mount, 1), str(mount, 2), varint(mount, 3), varint(mount, 4), varint(mount, 5)]).toEqual([
      "/data",
      "/srv/data",
      1n,
      1n,
      2n,
    ]);
    const idmap = msgs(mount, 6)[0]!;
    expect([varint(idmap, 1), varintOr0(idmap, 2), varint(idmap, 3)]).toEqual([100000n, 0n, 65536n]);
    expect([varint(mount, 8), str(mount, 10)]).toEqual([1n, "sub"]);
    const device = msgs(c, 8)[0]!;
    expect([str(device, 1), str(device, 2), str(device, 3)]).toEqual(["/dev/fuse", "/dev/fuse", "rwm"]);
    expect(stringMap(c, 9)).toEqual({ l: "1" });
    expect(stringMap(c, 10)).toEqual({ a: "1" });
    expect(str(c, 11)).toBe("app/0.log");
    expect([varint(c, 12), varint(c, 13), varint(c, 14)]).toEqual([1n, 1n, 1n]);
    const res = msg(msg(c, 15), 1);
    expect([varint(res, 1), varint(res, 2), varint(res, 3), varint(res, 4), int(res, 5)]).toEqual([
      100000n,
      50000n,
      512n,
      67108864n,
      -998n,
    ]);
    expect([str(res, 6), str(res, 7)]).toEqual(["0-1", "0"]);
    const huge = msgs(res, 8)[0]!;
    expect([str(huge, 1), varint(huge, 2)]).toEqual(["2MB", 4194304n]);
    expect(stringMap(res, 9)).toEqual({ "memory.high": "1" });
    expect(varint(res, 10)).toBe(134217728n);
    const sc = msg(msg(c, 15), 2);
    const caps = msg(sc, 1);
    expect([strs(caps, 1), strs(caps, 2)]).toEqual([["NET_ADMIN"], ["ALL"]]);
    expect(varint(sc, 2)).toBe(1n);
    const ns = msg(sc, 3);
    expect([varint(ns, 2), str(ns, 4)]).toEqual([3n, "c0"]);
    expect(varint(msg(sc, 5), 1)).toBe(1000n);
    expect(varint(msg(sc, 12), 1)).toBe(3000n); // run_as_group is 12 in the container context
    expect(str(sc, 6)).toBe("nobody");
    expect(varint(sc, 7)).toBe(1n);
    expect(packed(sc, 8)).toEqual([7n]);
    expect(str(sc, 9)).toBe("old-aa");
    expect(str(sc, 10)).toBe("old-sc");
    expect(varint(sc, 11)).toBe(1n);
    expect(strs(sc, 13)).toEqual(["/proc/kcore"]);
    expect(strs(sc, 14)).toEqual(["/proc/sys"]);
    expect(varintOr0(msg(sc, 15), 1)).toBe(0n); // RuntimeDefault
    expect([varint(msg(sc, 16), 1), str(msg(sc, 16), 2)]).toEqual([2n, "prof"]);
    expect(varint(sc, 17)).toBe(1n); // Strict
    expect(str(msgs(c, 17)[0]!, 1)).toBe("vendor.com/gpu=0");
    expect(varint(c, 18)).toBe(23n); // SIGTERM
  });

  it("ListContainersRequest filter and Container items", () => {
    const req = encodeRequest(RuntimeService, "ListContainers", {
      filter: {
        id: "3f2a",
        state: { state: "CONTAINER_EXITED" },
        podSandboxId: "p0d",
        labelSelector: { tier: "db" },
      },
    });
    const f = msg(req, 1);
    expect([str(f, 1), varint(msg(f, 2), 1), str(f, 3), stringMap(f, 4)]).toEqual([
      "3f2a",
      2n,
      "p0d",
      { tier: "db" },
    ]);
    const res = encodeResponse(RuntimeService, "ListContainers", {
      containers: [
        {
          id: "c1",
          podSandboxId: "p1",
          metadata: { name: "app" },
          image: { image: "busybox" },
          imageRef: "docker.io/library/busybox@sha256:1",
          state: "CONTAINER_RUNNING",
          createdAt: TS,
          labels: { l: "1" },
          annotations: { a: "1" },
          imageId: "sha256:2",
        },
      ],
    });
    const c = msgs(res, 1)[0]!;
    expect([str(c, 1), str(c, 2), str(msg(c, 3), 1), str(msg(c, 4), 1), str(c, 5)]).toEqual([
      "c1",
      "p1",
      "app",
      "busybox",
      "docker.io/library/busybox@sha256:1",
    ]);
    expect([varint(c, 6), int(c, 7), stringMap(c, 8), stringMap(c, 9), str(c, 10)]).toEqual([
      1n,
      BigInt(TS),
      { l: "1" },
      { a: "1" },
      "sha256:2",
    ]);
  });

  it("ContainerStatusResponse: every ContainerStatus field including timestamps", () => {
    const res = encodeResponse(RuntimeService, "ContainerStatus", {
      status: {
        id: "c1",
        metadata: { name: "app", attempt: 1 },
        state: "CONTAINER_EXITED",
        createdAt: "1700000000000000001",
        startedAt: "1700000000000000002",
        finishedAt: "1700000000000000003",
        exitCode: 137,
        image: { image: "busybox" },
        imageRef: "ref",
        reason: "OOMKilled",
        message: "killed",
        labels: { l: "1" },
        annotations: { a: "1" },
        mounts: [{ containerPath: "/m" }],
        logPath: "/var/log/pods/x/app/0.log",
        resources: { linux: { cpuShares: "2" }, windows: { cpuCount: "3" } },
        imageId: "sha256:2",
        user: { linux: { uid: "1000", gid: "1001", supplementalGroups: ["4"] } },
        stopSignal: "SIGKILL",
      },
      info: { info: "{}" },
    });
    const s = msg(res, 1);
    expect([str(s, 1), str(msg(s, 2), 1), varint(s, 3)]).toEqual(["c1", "app", 2n]);
    expect([int(s, 4), int(s, 5), int(s, 6)]).toEqual([
      1700000000000000001n,
      1700000000000000002n,
      1700000000000000003n,
    ]);
    expect([int(s, 7), str(msg(s, 8), 1), str(s, 9), str(s, 10), str(s, 11)]).toEqual([
      137n,
      "busybox",
      "ref",
      "OOMKilled",
      "killed",
    ]);
    expect([stringMap(s, 12), stringMap(s, 13), str(msgs(s, 14)[0]!, 1), str(s, 15)]).toEqual([
      { l: "1" },
      { a: "1" },
      "/m",
      "/var/log/pods/x/app/0.log",
    ]);
    const resources = msg(s, 16);
    expect([varint(msg(resources, 1), 3), varint(msg(resources, 2), 2)]).toEqual([2n, 3n]);
    expect(str(s, 17)).toBe("sha256:2");
    const user = msg(msg(s, 18), 1);
    expect([varint(user, 1), varint(user, 2), packed(user, 3)]).toEqual([1000n, 1001n, [4n]]);
    expect(varint(s, 19)).toBe(13n); // SIGKILL
    expect(stringMap(res, 2)).toEqual({ info: "{}" });
  });

  it("StopContainer, ExecSync request/response, Exec and Attach", () => {
    const stop = encodeRequest(RuntimeService, "StopContainer", { containerId: "c1", timeout: "30" });
    expect([str(stop, 1), varint(stop, 2)]).toEqual(["c1", 30n]);

    const execSync = encodeRequest(RuntimeService, "ExecSync", {
      containerId: "c1",
      cmd: ["ls", "-l"],
      timeout: "5",
    });
    expect([str(execSync, 1), strs(execSync, 2), varint(execSync, 3)]).toEqual(["c1", ["ls", "-l"], 5n]);

    const out = encodeResponse(RuntimeService, "ExecSync", {
      stdout: Buffer.from("out\n"),
      stderr: Buffer.from("err\n"),
      exitCode: 3,
    });
    expect(Buffer.from(bytes(out, 1)).toString()).toBe("out\n");
    expect(Buffer.from(bytes(out, 2)).toString()).toBe("err\n");
    expect(varint(out, 3)).toBe(3n);

    const exec = encodeRequest(RuntimeService, "Exec", {
      containerId: "c1",
      cmd: ["sh"],
      tty: true,
      stdin: true,
      stdout: true,
      stderr: true,
      auditRequestId: "audit",
    });
    expect([
      str(exec, 1),
      strs(exec, 2),
      varint(exec, 3),
      varint(exec, 4),
      varint(exec, 5),
      varint(exec, 6),
    ]).toEqual(["c1", ["sh"], 1n, 1n, 1n, 1n]);
    expect(str(exec, 7)).toBe("audit");
    const attach = encodeRequest(RuntimeService, "Attach", {
      containerId: "c1",
      stdin: true,
      tty: true,
      stdout: true,
      stderr: true,
    });
    expect([
      str(attach, 1),
      varint(attach, 2),
      varint(attach, 3),
      varint(attach, 4),
      varint(attach, 5),
    ]).toEqual(["c1", 1n, 1n, 1n, 1n]);
    const pf = encodeRequest(RuntimeService, "PortForward", { podSandboxId: "p1", port: [80, 443] });
    expect([str(pf, 1), packed(pf, 2)]).toEqual(["p1", [80n, 443n]]);
  });

  it("ContainerEventResponse", () => {
    const ev = encodeResponse(RuntimeService, "GetContainerEvents", {
      containerId: "c1",
      containerEventType: "CONTAINER_STOPPED_EVENT",
      createdAt: TS,
      podSandboxStatus: { id: "p1" },
      containersStatuses: [{ id: "c1" }],
    });
    expect([str(ev, 1), varint(ev, 2), int(ev, 3), str(msg(ev, 4), 1), str(msgs(ev, 5)[0]!, 1)]).toEqual([
      "c1",
      2n,
      BigInt(TS),
      "p1",
      "c1",
    ]);
  });
});

describe("wire: runtime status and version", () => {
  it("VersionResponse and StatusResponse", () => {
    const v = encodeResponse(RuntimeService, "Version", {
      version: "0.1.0",
      runtimeName: "servin",
      runtimeVersion: "0.1.0",
      runtimeApiVersion: "v1",
    });
    expect([str(v, 1), str(v, 2), str(v, 3), str(v, 4)]).toEqual(["0.1.0", "servin", "0.1.0", "v1"]);
    const s = encodeResponse(RuntimeService, "Status", {
      status: { conditions: [{ type: "RuntimeReady", status: true, reason: "R", message: "M" }] },
      info: { config: "{}" },
      runtimeHandlers: [{ name: "runc", features: { recursiveReadOnlyMounts: true, userNamespaces: true } }],
      features: { supplementalGroupsPolicy: true, userNamespacesHostNetwork: true },
    });
    const cond = msgs(msg(s, 1), 1)[0]!;
    expect([str(cond, 1), varint(cond, 2), str(cond, 3), str(cond, 4)]).toEqual([
      "RuntimeReady",
      1n,
      "R",
      "M",
    ]);
    expect(stringMap(s, 2)).toEqual({ config: "{}" });
    const handler = msgs(s, 3)[0]!;
    expect([str(handler, 1), varint(msg(handler, 2), 1), varint(msg(handler, 2), 2)]).toEqual([
      "runc",
      1n,
      1n,
    ]);
    expect([varint(msg(s, 4), 1), varint(msg(s, 4), 2)]).toEqual([1n, 1n]);
    const rc = encodeResponse(RuntimeService, "RuntimeConfig", { linux: { cgroupDriver: "CGROUPFS" } });
    expect(varint(msg(rc, 1), 1)).toBe(1n);
  });
});

describe("wire: image messages", () => {
  it("PullImageRequest with auth and sandbox config", () => {
    const p = encodeRequest(ImageService, "PullImage", {
      image: { image: "registry.local/app:1", annotations: { k: "v" } },
      auth: {
        username: "u",
        password: "p",
        auth: "dTpw",
        serverAddress: "registry.local",
        identityToken: "id",
        registryToken: "rt",
      },
      sandboxConfig: { metadata: { name: "web" }, hostname: "h" },
    });
    const image = msg(p, 1);
    expect([str(image, 1), stringMap(image, 2)]).toEqual(["registry.local/app:1", { k: "v" }]);
    const auth = msg(p, 2);
    expect([1, 2, 3, 4, 5, 6].map((n) => str(auth, n))).toEqual([
      "u",
      "p",
      "dTpw",
      "registry.local",
      "id",
      "rt",
    ]);
    expect(str(msg(p, 3), 2)).toBe("h");
    const r = encodeResponse(ImageService, "PullImage", { imageRef: "sha256:abc" });
    expect(str(r, 1)).toBe("sha256:abc");
  });

  it("Image (ListImages/ImageStatus) and ImageFsInfoResponse", () => {
    const list = encodeResponse(ImageService, "ListImages", {
      images: [
        {
          id: "sha256:1",
          repoTags: ["a:1"],
          repoDigests: ["a@sha256:2"],
          size: "12345",
          uid: { value: "0" },
          username: "",
          spec: { image: "a:1" },
          pinned: true,
        },
      ],
    });
    const img = msgs(list, 1)[0]!;
    expect([str(img, 1), strs(img, 2), strs(img, 3), varint(img, 4)]).toEqual([
      "sha256:1",
      ["a:1"],
      ["a@sha256:2"],
      12345n,
    ]);
    expect(img.has(5)).toBe(true); // uid present even when 0: it is a wrapper message
    expect([str(msg(img, 7), 1), varint(img, 8)]).toEqual(["a:1", 1n]);
    const named = encodeResponse(ImageService, "ImageStatus", {
      image: { id: "sha256:1", username: "app" },
      info: { imageSpec: "{}" },
    });
    expect([str(msg(named, 1), 6), stringMap(named, 2)]).toEqual(["app", { imageSpec: "{}" }]);
    const statusReq = encodeRequest(ImageService, "ImageStatus", { image: { image: "a:1" }, verbose: true });
    expect([str(msg(statusReq, 1), 1), varint(statusReq, 2)]).toEqual(["a:1", 1n]);

    const fs = encodeResponse(ImageService, "ImageFsInfo", {
      imageFilesystems: [
        {
          timestamp: TS,
          fsId: { mountpoint: "/var/lib/servin" },
          usedBytes: { value: "10" },
          inodesUsed: { value: "2" },
        },
      ],
      containerFilesystems: [{ timestamp: TS, fsId: { mountpoint: "/c" } }],
    });
    const f = msgs(fs, 1)[0]!;
    expect([int(f, 1), str(msg(f, 2), 1), varint(msg(f, 3), 1), varint(msg(f, 4), 1)]).toEqual([
      BigInt(TS),
      "/var/lib/servin",
      10n,
      2n,
    ]);
    expect(str(msg(msgs(fs, 2)[0]!, 2), 1)).toBe("/c");
  });
});

describe("wire: decoding hand-made bytes with our deserializers", () => {
  it("reads a CRI ExecSyncRequest and RemoveImageRequest built byte by byte", () => {
    const execBytes = writeMessage([
      [1, "c1"],
      [2, "echo"],
      [2, "hi"],
      [3, 7n],
    ]);
    expect(RuntimeService.ExecSync!.requestDeserialize(Buffer.from(execBytes))).toEqual({
      containerId: "c1",
      cmd: ["echo", "hi"],
      timeout: "7",
    });
    const rm = writeMessage([[1, writeMessage([[1, "busybox:latest"]])]]);
    expect(ImageService.RemoveImage!.requestDeserialize(Buffer.from(rm))).toMatchObject({
      image: { image: "busybox:latest", annotations: {} },
    });
  });

  it("reads a ContainerStatus with a negative exit code and int64 timestamps as strings", () => {
    const status = writeMessage([
      [1, "c1"],
      [3, 2n],
      [4, 1700000000123456789n],
      [7, -1n],
    ]);
    const res = RuntimeService.ContainerStatus!.responseDeserialize(
      Buffer.from(writeMessage([[1, status]])),
    ) as {
      status: { id: string; state: string; createdAt: string; exitCode: number; startedAt: string };
    };
    expect(res.status).toMatchObject({
      id: "c1",
      state: "CONTAINER_EXITED",
      createdAt: "1700000000123456789",
      startedAt: "0",
      exitCode: -1,
    });
  });
});
