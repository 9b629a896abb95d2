import { PassThrough } from "node:stream";
import type { AttachRequest, ExecRequest, PortForwardRequest } from "@servin/cri-types";
import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, fakeImages, podConfig } from "../_test-harness.js";
import type { BackendStreaming, StreamSessionIo } from "../backend.js";
import { createMemoryBackend } from "../memory/backend.js";
import { createRuntimeService, type ServinRuntimeService } from "../service.js";
import { createMemoryStore } from "../store/memory.js";
import type { StreamingProvider } from "./provider.js";

/** The streaming server's side of the seam, recording what it was asked to issue (the server itself is tested in @servin/streaming). */
function recordingProvider() {
  const issued: Array<
    ["exec", ExecRequest] | ["attach", AttachRequest] | ["portforward", PortForwardRequest]
  > = [];
  const issue = (entry: (typeof issued)[number], url: string) => {
    issued.push(entry);
    return { url };
  };
  const provider: StreamingProvider = {
    getExec: (req) => issue(["exec", req], "http://127.0.0.1:1/exec/t"),
    getAttach: (req) => issue(["attach", req], "http://127.0.0.1:1/attach/t"),
    getPortForward: (req) => issue(["portforward", req], "http://127.0.0.1:1/portforward/t"),
  };
  return { issued, provider };
}

/** A backend session side that records which records it got. */
function recordingBackendStreaming() {
  const sessions: string[] = [];
  const streaming: BackendStreaming = {
    exec: async (c, spec) => {
      sessions.push(`exec ${c.id} ${spec.cmd.join(" ")}`);
      return { exitCode: 0 };
    },
    attach: async (c) => void sessions.push(`attach ${c.id}`),
    portForward: async (s, port) => void sessions.push(`portforward ${s.id} ${port}`),
  };
  return { sessions, streaming };
}

let runtime: ServinRuntimeService | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

async function setup(withStreaming = true) {
  const { issued, provider } = recordingProvider();
  const { sessions, streaming } = recordingBackendStreaming();
  const backend = { ...createMemoryBackend(), ...(withStreaming ? { streaming } : {}) };
  runtime = await createRuntimeService({
    backend,
    images: fakeImages(),
    store: createMemoryStore(),
    streaming: provider,
  });
  const { podSandboxId } = await runtime.runPodSandbox({ config: podConfig() });
  const { containerId } = await runtime.createContainer({ podSandboxId, config: containerConfig("c") });
  return { runtime, issued, sessions, podSandboxId, containerId };
}

const io = (): StreamSessionIo => ({
  stdin: null,
  stdout: new PassThrough(),
  stderr: null,
  resize: null,
  signal: new AbortController().signal,
});

describe("Exec, Attach and PortForward with a streaming server", () => {
  it("need a RUNNING container (FailedPrecondition naming it) and issue URLs for its full ID", async () => {
    const { runtime, issued, containerId } = await setup();
    await expect(runtime.exec({ containerId, cmd: ["sh"], stdout: true })).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("CONTAINER_CREATED: Exec needs CONTAINER_RUNNING"),
    });
    await expect(runtime.attach({ containerId, stdout: true })).rejects.toMatchObject({
      code: "FailedPrecondition",
    });
    await runtime.startContainer({ containerId });
    const short = containerId.slice(0, 12);
    expect(await runtime.exec({ containerId: short, cmd: ["sh"], stdin: true, tty: true })).toEqual({
      url: "http://127.0.0.1:1/exec/t",
    });
    expect(await runtime.attach({ containerId: short, stdout: true })).toEqual({
      url: "http://127.0.0.1:1/attach/t",
    });
    expect(issued).toEqual([
      ["exec", { containerId, cmd: ["sh"], stdin: true, tty: true }],
      ["attach", { containerId, stdout: true }],
    ]);
  });

  it("reject an empty cmd and unknown IDs clearly", async () => {
    const { runtime, containerId } = await setup();
    await runtime.startContainer({ containerId });
    await expect(runtime.exec({ containerId, cmd: [], stdout: true })).rejects.toMatchObject({
      code: "InvalidArgument",
      message: expect.stringContaining("cmd"),
    });
    await expect(runtime.exec({ containerId: "nope", cmd: ["sh"], stdout: true })).rejects.toMatchObject({
      code: "NotFound",
    });
    await expect(runtime.portForward({ podSandboxId: "nope", port: [80] })).rejects.toMatchObject({
      code: "NotFound",
    });
  });

  it("PortForward needs a READY pod", async () => {
    const { runtime, issued, podSandboxId } = await setup();
    expect(await runtime.portForward({ podSandboxId, port: [8080] })).toEqual({
      url: "http://127.0.0.1:1/portforward/t",
    });
    expect(issued).toEqual([["portforward", { podSandboxId, port: [8080] }]]);
    await runtime.stopPodSandbox({ podSandboxId });
    await expect(runtime.portForward({ podSandboxId, port: [8080] })).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("SANDBOX_NOTREADY: PortForward needs SANDBOX_READY"),
    });
  });

  it("the session runtime checks the state again when the client connects, and hands the backend the records", async () => {
    const { runtime, sessions, podSandboxId, containerId } = await setup();
    const sr = runtime.streamingRuntime!;
    await expect(sr.exec({ containerId, cmd: ["true"], tty: false }, io())).rejects.toMatchObject({
      code: "FailedPrecondition",
    });
    await runtime.startContainer({ containerId });
    expect(await sr.exec({ containerId, cmd: ["true"], tty: false }, io())).toEqual({ exitCode: 0 });
    await sr.attach({ containerId, tty: false }, io());
    await sr.portForward({ podSandboxId, port: 80 }, new PassThrough(), new AbortController().signal);
    expect(sessions).toEqual([
      `exec ${containerId} true`,
      `attach ${containerId}`,
      `portforward ${podSandboxId} 80`,
    ]);
    await runtime.stopContainer({ containerId, timeout: 0 });
    await expect(sr.attach({ containerId, tty: false }, io())).rejects.toMatchObject({
      code: "FailedPrecondition",
    });
  });

  it("stay Unimplemented when the backend has no streaming, even with a server", async () => {
    const { runtime, containerId, podSandboxId } = await setup(false);
    await runtime.startContainer({ containerId });
    expect(runtime.streamingRuntime).toBeUndefined();
    await expect(runtime.exec({ containerId, cmd: ["sh"], stdout: true })).rejects.toMatchObject({
      code: "Unimplemented",
    });
    await expect(runtime.portForward({ podSandboxId })).rejects.toMatchObject({ code: "Unimplemented" });
  });
});
