import { type ContainerId, CriError, type ImageId, type SandboxId } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from "./codec.js";
import { parseTimestamp } from "./timestamp.js";

/** Decodes and returns the CriError it must throw. */
function decodeError(run: () => unknown): CriError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CriError);
    return err as CriError;
  }
  throw new Error("expected a CriError");
}

describe("the documented HTTP/JSON contract", () => {
  it("version: {} in, wrapped version out", () => {
    expect(decodeRequest("version", {}, "json")).toEqual({});
    const out = encodeResponse(
      "version",
      { version: "v1alpha2", runtimeName: "servin", runtimeVersion: "0.1.0", runtimeApiVersion: "v1alpha2" },
      "json",
    );
    expect(out).toStrictEqual({
      version: {
        version: "v1alpha2",
        runtime_name: "servin",
        runtime_version: "0.1.0",
        runtime_api_version: "v1alpha2",
      },
    });
    expect(decodeResponse("version", out, "json")).toEqual({
      version: "v1alpha2",
      runtimeName: "servin",
      runtimeVersion: "0.1.0",
      runtimeApiVersion: "v1alpha2",
    });
  });

  it("status", () => {
    const out = encodeResponse(
      "status",
      {
        status: {
          conditions: [
            { type: "RuntimeReady", status: true, reason: "RuntimeReady", message: "Runtime is ready" },
          ],
        },
      },
      "json",
    );
    expect(out).toStrictEqual({
      status: {
        conditions: [
          { type: "RuntimeReady", status: true, reason: "RuntimeReady", message: "Runtime is ready" },
        ],
      },
    });
  });

  it("sandbox list", () => {
    expect(decodeRequest("listPodSandbox", { filter: {} }, "json")).toEqual({ filter: {} });
    const out = encodeResponse(
      "listPodSandbox",
      {
        items: [
          {
            id: "sandbox-123" as SandboxId,
            metadata: { name: "test-pod", namespace: "default" },
            state: "SANDBOX_READY",
            createdAt: parseTimestamp("2024-01-01T12:00:00Z"),
          },
        ],
      },
      "json",
    );
    expect(JSON.parse(JSON.stringify(out))).toStrictEqual({
      items: [
        {
          id: "sandbox-123",
          metadata: { name: "test-pod", namespace: "default" },
          state: "SANDBOX_READY",
          created_at: "2024-01-01T12:00:00Z",
        },
      ],
    });
  });

  it("sandbox create", () => {
    const body = {
      config: {
        metadata: { name: "test-pod", namespace: "default" },
        hostname: "test-pod",
        log_directory: "/var/log/pods",
      },
    };
    expect(decodeRequest("runPodSandbox", body, "json")).toStrictEqual({
      config: {
        metadata: { name: "test-pod", namespace: "default" },
        hostname: "test-pod",
        logDirectory: "/var/log/pods",
      },
    });
    expect(
      encodeResponse("runPodSandbox", { podSandboxId: "sandbox-456" as SandboxId }, "json"),
    ).toStrictEqual({
      pod_sandbox_id: "sandbox-456",
    });
  });

  it("container list", () => {
    expect(decodeRequest("listContainers", { filter: {} }, "json")).toEqual({ filter: {} });
    const out = encodeResponse(
      "listContainers",
      {
        containers: [
          {
            id: "container-789" as ContainerId,
            podSandboxId: "sandbox-123" as SandboxId,
            metadata: { name: "test-container" },
            image: { image: "alpine:latest" },
            imageRef: "sha256:0123",
            state: "CONTAINER_RUNNING",
            createdAt: parseTimestamp("2024-01-01T12:05:00Z"),
          },
        ],
      },
      "json",
    );
    expect(JSON.parse(JSON.stringify(out))).toStrictEqual({
      containers: [
        {
          id: "container-789",
          pod_sandbox_id: "sandbox-123",
          metadata: { name: "test-container" },
          image: { image: "alpine:latest" },
          image_ref: "sha256:0123",
          state: "CONTAINER_RUNNING",
          created_at: "2024-01-01T12:05:00Z",
        },
      ],
    });
  });

  const createContainerDomain = {
    podSandboxId: "sandbox-123",
    config: {
      metadata: { name: "test-container" },
      image: { image: "alpine:latest" },
      command: ["/bin/sh"],
      args: ["-c", "sleep 3600"],
    },
    sandboxConfig: { metadata: { name: "test-pod", namespace: "default" } },
  };

  it("container create", () => {
    const body = {
      pod_sandbox_id: "sandbox-123",
      config: {
        metadata: { name: "test-container" },
        image: { image: "alpine:latest" },
        command: ["/bin/sh"],
        args: ["-c", "sleep 3600"],
      },
      sandbox_config: { metadata: { name: "test-pod", namespace: "default" } },
    };
    expect(decodeRequest("createContainer", body, "json")).toStrictEqual(createContainerDomain);
    expect(
      encodeResponse("createContainer", { containerId: "container-789" as ContainerId }, "json"),
    ).toStrictEqual({
      container_id: "container-789",
    });
  });

  it("container create in lowerCamelCase (proto3 JSON names)", () => {
    const body = {
      podSandboxId: "sandbox-123",
      config: {
        metadata: { name: "test-container" },
        image: { image: "alpine:latest" },
        command: ["/bin/sh"],
        args: ["-c", "sleep 3600"],
      },
      sandboxConfig: { metadata: { name: "test-pod", namespace: "default" } },
    };
    expect(decodeRequest("createContainer", body, "json")).toStrictEqual(createContainerDomain);
  });

  it("image list, with the UID as a decimal string", () => {
    expect(decodeRequest("listImages", { filter: {} }, "json")).toEqual({ filter: {} });
    const out = encodeResponse(
      "listImages",
      {
        images: [
          {
            id: "sha256:abc123..." as ImageId,
            repoTags: ["alpine:latest"],
            repoDigests: [],
            size: 5242880,
            uid: { value: 123 },
          },
        ],
      },
      "json",
    );
    expect(out).toStrictEqual({
      images: [
        {
          id: "sha256:abc123...",
          repo_tags: ["alpine:latest"],
          repo_digests: [],
          size: 5242880,
          uid: { value: "123" },
        },
      ],
    });
    expect(decodeResponse("listImages", out, "json")).toEqual({
      images: [
        {
          id: "sha256:abc123...",
          repoTags: ["alpine:latest"],
          repoDigests: [],
          size: 5242880,
          uid: { value: 123 },
        },
      ],
    });
  });

  it("image pull", () => {
    const req = decodeRequest(
      "pullImage",
      { image: { image: "alpine:latest" }, auth: {}, sandbox_config: {} },
      "json",
    );
    // An empty sandbox_config is present, with its required metadata at proto3 defaults.
    expect(req).toEqual({
      image: { image: "alpine:latest" },
      auth: {},
      sandboxConfig: { metadata: { name: "" } },
    });
    expect(encodeResponse("pullImage", { imageRef: "alpine:latest" }, "json")).toStrictEqual({
      image_ref: "alpine:latest",
    });
  });

  it("an absent body is the empty message", () => {
    expect(decodeRequest("version", undefined, "json")).toEqual({});
    expect(decodeRequest("imageFsInfo", undefined, "json")).toEqual({});
  });
});

describe("json values", () => {
  it("timestamps: RFC 3339 out with nanoseconds, zero omitted; RFC 3339 or integers in", () => {
    const status = {
      id: "c1" as ContainerId,
      metadata: { name: "c" },
      state: "CONTAINER_RUNNING" as const,
      createdAt: 1_704_110_400_123_456_789n,
      startedAt: 1_704_110_401_000_000_000n,
      finishedAt: 0n,
      exitCode: 0,
      image: { image: "busybox" },
      imageRef: "sha256:1",
    };
    const out = encodeResponse("containerStatus", { status }, "json") as { status: Record<string, unknown> };
    expect(out.status.created_at).toBe("2024-01-01T12:00:00.123456789Z");
    expect(out.status.started_at).toBe("2024-01-01T12:00:01Z");
    expect(out.status).not.toHaveProperty("finished_at");
    expect(out.status.exit_code).toBe(0);
    const back = decodeResponse(
      "containerStatus",
      { status: { ...out.status, created_at: "1704110400123456789", started_at: 1_704_110_401_000_000_000 } },
      "json",
    );
    expect(back.status).toEqual(status);
  });

  it("bytes are base64", () => {
    const out = encodeResponse(
      "execSync",
      { stdout: new TextEncoder().encode("hello\n"), stderr: new Uint8Array(), exitCode: 1 },
      "json",
    );
    expect(out).toStrictEqual({ stdout: "aGVsbG8K", stderr: "", exit_code: 1 });
    const back = decodeResponse("execSync", { stdout: "aGVsbG8K", exit_code: 1 }, "json");
    expect(new TextDecoder().decode(back.stdout)).toBe("hello\n");
    expect(back.stderr).toEqual(new Uint8Array());
  });

  it("int64: numbers out, numbers or decimal strings in; wrappers as strings out", () => {
    const req = decodeRequest(
      "updateContainerResources",
      {
        container_id: "c",
        linux: { memory_limit_in_bytes: "268435456", cpu_quota: 50000, cpu_shares: "2" },
      },
      "json",
    );
    expect(req.linux).toEqual({ memoryLimitInBytes: 268435456, cpuQuota: 50000, cpuShares: 2 });
    expect(encodeRequest("updateContainerResources", req, "json")).toStrictEqual({
      container_id: "c",
      linux: { cpu_quota: 50000, cpu_shares: 2, memory_limit_in_bytes: 268435456 },
    });
    const ctx = decodeRequest(
      "createContainer",
      {
        pod_sandbox_id: "p",
        config: {
          metadata: { name: "c" },
          image: { image: "i" },
          linux: { security_context: { run_as_user: { value: "0" }, run_as_group: { value: 1000 } } },
        },
      },
      "json",
    );
    expect(ctx.config.linux?.securityContext).toEqual({
      runAsUser: { value: 0 },
      runAsGroup: { value: 1000 },
    });
  });

  it("enums by name out; names or CRI numbers in", () => {
    const req = decodeRequest(
      "listContainers",
      { filter: { state: { state: 2 }, label_selector: { app: "web" } } },
      "json",
    );
    expect(req).toEqual({ filter: { state: { state: "CONTAINER_EXITED" }, labelSelector: { app: "web" } } });
    // toEqual: maps come out as null-prototype objects.
    expect(encodeRequest("listContainers", req, "json")).toEqual({
      filter: { state: { state: "CONTAINER_EXITED" }, label_selector: { app: "web" } },
    });
    const sandbox = decodeRequest(
      "runPodSandbox",
      {
        config: {
          metadata: { name: "p" },
          port_mappings: [{ protocol: 1, container_port: 80 }, { protocol: "SCTP" }],
          linux: {
            security_context: {
              namespace_options: { network: 2, pid: "CONTAINER" },
              seccomp: { profile_type: 2, localhost_ref: "/p.json" },
            },
          },
        },
      },
      "json",
    );
    expect(sandbox.config.portMappings).toEqual([
      { protocol: "UDP", containerPort: 80 },
      { protocol: "SCTP" },
    ]);
    expect(sandbox.config.linux?.securityContext).toEqual({
      namespaceOptions: { network: "NODE", pid: "CONTAINER" },
      seccomp: { profileType: "Localhost", localhostRef: "/p.json" },
    });
  });

  it("stop signals: names, numbers and the SIGRTMIN+n spellings", () => {
    const decode = (stop_signal: unknown) =>
      decodeRequest(
        "createContainer",
        { pod_sandbox_id: "p", config: { metadata: { name: "c" }, image: { image: "i" }, stop_signal } },
        "json",
      ).config.stopSignal;
    expect(decode("SIGTERM")).toBe("SIGTERM");
    expect(decode(23)).toBe("SIGTERM");
    expect(decode(1)).toBe("SIGABRT");
    expect(decode(65)).toBe("SIGRTMAX");
    expect(decode("SIGRTMIN+1")).toBe("SIGRTMINPLUS1");
    expect(decode("SIGRTMAX-14")).toBe("SIGRTMAXMINUS14");
    expect(decode("RUNTIME_DEFAULT")).toBeUndefined();
    expect(decode(0)).toBeUndefined();
    expect(() => decode("SIGNOPE")).toThrow(/config\.stop_signal: expected a signal name/);
  });

  it("ignores unknown fields, reads null as absent, and empty filter strings as absent", () => {
    expect(
      decodeRequest(
        "listPodSandbox",
        { filter: { id: "", state: null, label_selector: null, bogus: { deep: [1, 2] } }, extra: true },
        "json",
      ),
    ).toEqual({ filter: {} });
    expect(decodeRequest("listContainers", { filter: { id: "", pod_sandbox_id: "" } }, "json")).toEqual({
      filter: {},
    });
    expect(decodeRequest("listContainers", { filter: null }, "json")).toEqual({});
  });

  it("map keys are never case-converted", () => {
    const req = decodeRequest(
      "runPodSandbox",
      { config: { metadata: { name: "p" }, labels: { "io.kubernetes.pod_name": "p", someKey: "v" } } },
      "json",
    );
    expect(req.config.labels).toEqual({ "io.kubernetes.pod_name": "p", someKey: "v" });
    expect(encodeRequest("runPodSandbox", req, "json")).toMatchObject({
      config: { labels: { "io.kubernetes.pod_name": "p", someKey: "v" } },
    });
  });

  it("CDI devices: cdi_devices out; every spelling in", () => {
    for (const key of ["cdi_devices", "cdiDevices", "CDIDevices", "CDI_devices"]) {
      const req = decodeRequest(
        "createContainer",
        {
          pod_sandbox_id: "p",
          config: { metadata: { name: "c" }, image: { image: "i" }, [key]: [{ name: "v/g=1" }] },
        },
        "json",
      );
      expect(req.config.cdiDevices).toEqual([{ name: "v/g=1" }]);
    }
  });
});

describe("proto (proto-loader objects)", () => {
  it("reads proto3 defaults as absent", () => {
    const wire = {
      podSandboxId: "p",
      config: {
        metadata: { name: "c", attempt: 0 },
        image: { image: "i", annotations: {}, userSpecifiedImage: "", runtimeHandler: "" },
        command: [],
        args: [],
        workingDir: "",
        envs: [],
        mounts: [],
        devices: [],
        labels: {},
        annotations: {},
        logPath: "",
        stdin: false,
        stdinOnce: false,
        tty: false,
        linux: null,
        windows: null,
        CDIDevices: [],
        stopSignal: "RUNTIME_DEFAULT",
      },
      sandboxConfig: null,
    };
    expect(decodeRequest("createContainer", wire, "proto")).toStrictEqual({
      podSandboxId: "p",
      config: { metadata: { name: "c" }, image: { image: "i" } },
    });
  });

  it("writes every field, int64 as decimal strings, bytes as Buffer, absent messages as null", () => {
    expect(
      encodeResponse(
        "execSync",
        { stdout: new Uint8Array([104, 105]), stderr: new Uint8Array(), exitCode: 0 },
        "proto",
      ),
    ).toStrictEqual({ stdout: Buffer.from("hi"), stderr: Buffer.alloc(0), exitCode: 0 });
    const out = encodeResponse(
      "podSandboxStatus",
      {
        status: {
          id: "s" as SandboxId,
          metadata: { name: "p" },
          state: "SANDBOX_READY",
          createdAt: 1_704_110_400_123_456_789n,
        },
      },
      "proto",
    );
    expect(out).toMatchObject({
      status: {
        id: "s",
        metadata: { name: "p", uid: "", namespace: "", attempt: 0 },
        state: "SANDBOX_READY",
        createdAt: "1704110400123456789",
        network: null,
        linux: null,
        runtimeHandler: "",
      },
      containersStatuses: [],
      timestamp: "0",
    });
    expect(encodeRequest("stopContainer", { containerId: "c", timeout: 10 }, "proto")).toStrictEqual({
      containerId: "c",
      timeout: "10",
    });
  });

  it("accepts int64 as string, number, bigint or Long, and bytes as Buffer, Uint8Array or base64", () => {
    for (const timeout of ["30", 30, 30n, { low: 30, high: 0, unsigned: false }]) {
      expect(decodeRequest("execSync", { containerId: "c", cmd: ["true"], timeout }, "proto").timeout).toBe(
        30,
      );
    }
    for (const stdout of [Buffer.from("ok"), new Uint8Array([111, 107]), "b2s="]) {
      const res = decodeResponse("execSync", { stdout, stderr: Buffer.alloc(0), exitCode: 0 }, "proto");
      expect(new TextDecoder().decode(res.stdout)).toBe("ok");
    }
  });

  it("names missing fields by their proto-loader keys", () => {
    const err = decodeError(() => decodeRequest("createContainer", { config: { metadata: {} } }, "proto"));
    expect(err.message).toBe(
      "config.metadata.name: expected a non-empty string; config.image: expected an object; podSandboxId: expected a non-empty string",
    );
  });
});

describe("errors", () => {
  it("one InvalidArgument listing every offending path, in the casing the client used", () => {
    const err = decodeError(() =>
      decodeRequest(
        "runPodSandbox",
        {
          config: { metadata: { name: "" }, labels: { app: 5, ok: "y" }, port_mappings: [{ hostPort: "x" }] },
        },
        "json",
      ),
    );
    expect(err.code).toBe("InvalidArgument");
    expect(err.message).toBe(
      "config.metadata.name: expected a non-empty string; config.port_mappings[0].hostPort: expected a 32-bit integer; config.labels.app: expected string",
    );
    expect(err.details).toEqual({
      fields: [
        { path: "config.metadata.name", message: "expected a non-empty string" },
        { path: "config.port_mappings[0].hostPort", message: "expected a 32-bit integer" },
        { path: "config.labels.app", message: "expected string" },
      ],
    });
  });

  it("names a missing field in the casing of its neighbours", () => {
    expect(decodeError(() => decodeRequest("createContainer", { config: {} }, "json")).message).toBe(
      "config.metadata: expected an object; config.image: expected an object; pod_sandbox_id: expected a non-empty string",
    );
    expect(
      decodeError(() =>
        decodeRequest(
          "createContainer",
          { sandboxConfig: {}, config: { metadata: { name: "c" }, image: {} } },
          "json",
        ),
      ).message,
    ).toBe("config.image.image: expected a non-empty string; podSandboxId: expected a non-empty string");
  });

  it.each([
    ["runPodSandbox", {}, "config: expected an object"],
    ["runPodSandbox", { config: {} }, "config.metadata: expected an object"],
    ["runPodSandbox", { config: { metadata: { name: 7 } } }, "config.metadata.name: expected string"],
    ["stopPodSandbox", {}, "pod_sandbox_id: expected a non-empty string"],
    ["removePodSandbox", { pod_sandbox_id: "" }, "pod_sandbox_id: expected a non-empty string"],
    ["podSandboxStatus", { podSandboxId: null }, "podSandboxId: expected a non-empty string"],
    ["podSandboxStats", {}, "pod_sandbox_id: expected a non-empty string"],
    ["portForward", { port: [80] }, "pod_sandbox_id: expected a non-empty string"],
    ["startContainer", {}, "container_id: expected a non-empty string"],
    [
      "stopContainer",
      { container_id: "c", timeout: 1.5 },
      "timeout: expected a 64-bit integer (number or decimal string)",
    ],
    ["removeContainer", { container_id: 5 }, "container_id: expected string"],
    ["containerStatus", {}, "container_id: expected a non-empty string"],
    ["updateContainerResources", {}, "container_id: expected a non-empty string"],
    ["reopenContainerLog", {}, "container_id: expected a non-empty string"],
    ["execSync", { container_id: "c" }, "cmd: expected a non-empty array"],
    ["execSync", { container_id: "c", cmd: "ls" }, "cmd: expected an array"],
    ["exec", { container_id: "c", cmd: [] }, "cmd: expected a non-empty array"],
    ["attach", {}, "container_id: expected a non-empty string"],
    ["containerStats", {}, "container_id: expected a non-empty string"],
    ["checkpointContainer", {}, "container_id: expected a non-empty string"],
    ["pullImage", {}, "image: expected an object"],
    ["pullImage", { image: { image: "" } }, "image.image: expected a non-empty string"],
    ["imageStatus", { image: {} }, "image.image: expected a non-empty string"],
    ["removeImage", { image: "alpine" }, "image: expected an object"],
    [
      "listContainers",
      { filter: { state: { state: "RUNNING" } } },
      "filter.state.state: expected one of CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED, CONTAINER_UNKNOWN",
    ],
    ["status", { verbose: "yes" }, "verbose: expected a boolean"],
  ] as const)("%s %j → %s", (rpc, body, message) => {
    const err = decodeError(() => decodeRequest(rpc, body, "json"));
    expect(err.code).toBe("InvalidArgument");
    expect(err.message).toBe(message);
  });

  it.each([[[]], ["{}"], [42], [null], [true], [Buffer.from("{}")]])("non-object body %j", (body) => {
    const err = decodeError(() => decodeRequest("listPodSandbox", body, "json"));
    expect(err.code).toBe("InvalidArgument");
    expect(err.message).toBe("request body: expected a JSON object");
    expect(err.details).toEqual({ fields: [{ path: "request body", message: "expected a JSON object" }] });
  });

  it("quotes map keys that are not identifiers", () => {
    const err = decodeError(() =>
      decodeRequest(
        "runPodSandbox",
        { config: { metadata: { name: "p" }, annotations: { "a.b/c d": null } } },
        "json",
      ),
    );
    expect(err.message).toBe('config.annotations["a.b/c d"]: expected string');
  });

  it("caps the message but keeps the details", () => {
    const cmd = Array.from({ length: 500 }, (_, i) => i);
    const err = decodeError(() => decodeRequest("execSync", { container_id: "c", cmd }, "json"));
    expect(err.message).toMatch(/^cmd\[0\]: expected string; cmd\[1\]: expected string; .*; and 480 more$/);
    expect((err.details as { fields: unknown[] }).fields).toHaveLength(500);
  });

  it("a malformed response is an Internal error for the client", () => {
    const err = decodeError(() => decodeResponse("runPodSandbox", { pod_sandbox_id: 1 }, "json"));
    expect(err.code).toBe("Internal");
    expect(err.message).toBe("pod_sandbox_id: expected string");
  });

  it("an unknown RPC name is Unimplemented", () => {
    const err = decodeError(() => decodeRequest("frobnicate" as "version", {}, "json"));
    expect(err.code).toBe("Unimplemented");
  });
});
