import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function running(harness: Harness) {
  const { podSandboxId } = await harness.runtime.runPodSandbox({ config: podConfig() });
  const { containerId } = await harness.runtime.createContainer({
    podSandboxId,
    config: containerConfig("c"),
  });
  await harness.runtime.startContainer({ containerId });
  return containerId;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("execSync (memory backend simulation)", () => {
  it("echo, true, false and sh -c 'exit N' give deterministic results", async () => {
    h = await createHarness();
    const containerId = await running(h);
    const echo = await h.runtime.execSync({ containerId, cmd: ["/bin/echo", "a", "b"] });
    expect([text(echo.stdout), text(echo.stderr), echo.exitCode]).toEqual(["a b\n", "", 0]);
    expect((await h.runtime.execSync({ containerId, cmd: ["true"] })).exitCode).toBe(0);
    expect((await h.runtime.execSync({ containerId, cmd: ["false"] })).exitCode).toBe(1);
    expect((await h.runtime.execSync({ containerId, cmd: ["sh", "-c", "exit 42"] })).exitCode).toBe(42);
  });

  it("anything else is Unimplemented, naming the command", async () => {
    h = await createHarness();
    const containerId = await running(h);
    await expect(h.runtime.execSync({ containerId, cmd: ["ls", "/"] })).rejects.toMatchObject({
      code: "Unimplemented",
      message: expect.stringContaining('["ls","/"]'),
    });
  });

  it("needs a running container and a command", async () => {
    h = await createHarness();
    const containerId = await running(h);
    await expect(h.runtime.execSync({ containerId, cmd: [] })).rejects.toMatchObject({
      code: "InvalidArgument",
    });
    await h.runtime.stopContainer({ containerId });
    await expect(h.runtime.execSync({ containerId, cmd: ["true"] })).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("CONTAINER_EXITED"),
    });
  });
});
