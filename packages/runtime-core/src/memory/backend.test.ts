import type { ContainerId, ImageId, SandboxId } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import type { ContainerRecord, SandboxRecord } from "../backend.js";
import { containerArgv, signalNumber } from "./_simulate.js";
import { createMemoryBackend } from "./backend.js";

const image = {
  id: `sha256:${"1".repeat(64)}` as ImageId,
  ref: "r",
  repoTags: [],
  repoDigests: [],
  config: { entrypoint: ["/entry"], cmd: ["default"] },
  layers: [],
};
const sandbox: SandboxRecord = {
  id: "a".repeat(64) as SandboxId,
  config: { metadata: { name: "p" } },
  runtimeHandler: "",
  createdAt: 1n,
  backendState: {},
};
const container = (argv: string[]): ContainerRecord => ({
  id: "b".repeat(64) as ContainerId,
  sandboxId: sandbox.id,
  config: { metadata: { name: "c" }, image: { image: "x" }, command: argv.slice(0, 1), args: argv.slice(1) },
  image,
  logPath: "",
  createdAt: 1n,
  backendState: {},
});

describe("memory backend", () => {
  it("applies kubelet's command/args rules over ENTRYPOINT/CMD", () => {
    const base = { metadata: { name: "c" }, image: { image: "x" } };
    expect(containerArgv(base, image)).toEqual(["/entry", "default"]);
    expect(containerArgv({ ...base, args: ["a"] }, image)).toEqual(["/entry", "a"]);
    expect(containerArgv({ ...base, command: ["/bin/x"] }, image)).toEqual(["/bin/x"]);
    expect(containerArgv({ ...base, command: ["/bin/x"], args: ["y"] }, image)).toEqual(["/bin/x", "y"]);
  });

  it("maps stop signals by name, short name and number", () => {
    expect(signalNumber(undefined)).toBe(15);
    expect(signalNumber("RUNTIME_DEFAULT")).toBe(15);
    expect(signalNumber("SIGKILL")).toBe(9);
    expect(signalNumber("HUP")).toBe(1);
    expect(signalNumber("10")).toBe(10);
    expect(() => signalNumber("SIGNOPE")).toThrow(expect.objectContaining({ code: "InvalidArgument" }));
  });

  it("runs until stopped; stop is idempotent and reported to exit listeners", async () => {
    const backend = createMemoryBackend();
    const exits: number[] = [];
    backend.onContainerExit((_id, exit) => exits.push(exit.exitCode));
    await backend.runSandbox(sandbox);
    const c = container(["sleep", "1"]);
    await backend.createContainer(c, sandbox);
    await backend.startContainer(c, sandbox);
    expect((await backend.inspectContainer(c)).state).toBe("running");
    expect((await backend.stopContainer(c, 0))?.exitCode).toBe(137);
    expect((await backend.stopContainer(c, 0))?.exitCode).toBe(137);
    expect(exits).toEqual([137]);
    await backend.removeContainer(c, sandbox);
    await backend.removeContainer(c, sandbox);
    expect(await backend.stopContainer(c, 0)).toBeUndefined();
    expect((await backend.inspectContainer(c)).state).toBe("unknown");
  });

  it("close() drops listeners but keeps the simulated containers (they outlive the server)", async () => {
    const backend = createMemoryBackend();
    const exits: number[] = [];
    backend.onContainerExit((_id, exit) => exits.push(exit.exitCode));
    await backend.runSandbox(sandbox);
    const c = container(["sleep", "1"]);
    await backend.createContainer(c, sandbox);
    await backend.startContainer(c, sandbox);
    await backend.close();
    backend.simulateExit(c.id, 1);
    expect(exits).toEqual([]);
    expect(await backend.inspectContainer(c)).toMatchObject({ state: "exited", exit: { exitCode: 1 } });
  });
});
