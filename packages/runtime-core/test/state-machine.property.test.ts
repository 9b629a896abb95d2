/** Model-based property test: random RPC sequences (with restarts) against a tiny model of the CRI rules. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../src/_test-harness.js";

type Op =
  | { kind: "runPod" | "stopPod" | "removePod"; pod: number }
  | { kind: "create" | "start" | "stop" | "remove"; pod: number; ctr: number }
  | { kind: "restart" };

interface ModelPod {
  id: string;
  ready: boolean;
}
interface ModelCtr {
  id: string;
  pod: number;
  state: "CONTAINER_CREATED" | "CONTAINER_RUNNING" | "CONTAINER_EXITED";
}

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom("runPod", "stopPod", "removePod"), pod: fc.nat(2) }) as fc.Arbitrary<Op>,
  fc.record({
    kind: fc.constantFrom("create", "start", "stop", "remove"),
    pod: fc.nat(2),
    ctr: fc.nat(2),
  }) as fc.Arbitrary<Op>,
  fc.constant({ kind: "restart" } as Op),
);

async function code(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? "thrown";
  }
}

async function apply(
  h: Harness,
  pods: Map<number, ModelPod>,
  ctrs: Map<string, ModelCtr>,
  o: Op,
): Promise<void> {
  const rt = h.runtime;
  const key = (pod: number, ctr: number) => `${pod}/${ctr}`;
  switch (o.kind) {
    case "restart":
      await h.restart();
      return;
    case "runPod": {
      const existing = pods.get(o.pod);
      const config = podConfig(`p${o.pod}`);
      if (existing) {
        expect(await code(rt.runPodSandbox({ config }))).toBe("AlreadyExists");
        return;
      }
      pods.set(o.pod, { id: (await rt.runPodSandbox({ config })).podSandboxId, ready: true });
      return;
    }
    case "stopPod": {
      const pod = pods.get(o.pod);
      await rt.stopPodSandbox({ podSandboxId: pod?.id ?? "f".repeat(64) });
      if (!pod) return;
      pod.ready = false;
      for (const c of ctrs.values())
        if (c.pod === o.pod && c.state === "CONTAINER_RUNNING") c.state = "CONTAINER_EXITED";
      return;
    }
    case "removePod": {
      const pod = pods.get(o.pod);
      await rt.removePodSandbox({ podSandboxId: pod?.id ?? "f".repeat(64) });
      pods.delete(o.pod);
      for (const [k, c] of ctrs) if (c.pod === o.pod) ctrs.delete(k);
      return;
    }
    case "create": {
      const pod = pods.get(o.pod);
      if (!pod) return;
      const work = rt.createContainer({ podSandboxId: pod.id, config: containerConfig(`c${o.ctr}`) });
      if (!pod.ready) expect(await code(work)).toBe("FailedPrecondition");
      else if (ctrs.has(key(o.pod, o.ctr))) expect(await code(work)).toBe("AlreadyExists");
      else
        ctrs.set(key(o.pod, o.ctr), { id: (await work).containerId, pod: o.pod, state: "CONTAINER_CREATED" });
      return;
    }
    case "start": {
      const c = ctrs.get(key(o.pod, o.ctr));
      if (!c) return;
      const work = rt.startContainer({ containerId: c.id });
      if (c.state === "CONTAINER_CREATED" && pods.get(o.pod)?.ready) {
        await work;
        c.state = "CONTAINER_RUNNING";
      } else expect(await code(work)).toBe("FailedPrecondition");
      return;
    }
    case "stop": {
      const c = ctrs.get(key(o.pod, o.ctr));
      if (!c) return;
      await rt.stopContainer({ containerId: c.id, timeout: 0 });
      if (c.state === "CONTAINER_RUNNING") c.state = "CONTAINER_EXITED";
      return;
    }
    case "remove": {
      const c = ctrs.get(key(o.pod, o.ctr));
      await rt.removeContainer({ containerId: c?.id ?? "e".repeat(64) });
      ctrs.delete(key(o.pod, o.ctr));
      return;
    }
  }
}

describe("the runtime follows the CRI state machine for any sequence of calls", () => {
  it("list results always match the model, across restarts", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 60, size: "large" }), async (ops) => {
        const h = await createHarness();
        const pods = new Map<number, ModelPod>();
        const ctrs = new Map<string, ModelCtr>();
        try {
          for (const o of ops) {
            await apply(h, pods, ctrs, o);
            const listedPods = (await h.runtime.listPodSandbox({})).items.map((p) => [p.id, p.state]).sort();
            const modelPods = [...pods.values()]
              .map((p) => [p.id, p.ready ? "SANDBOX_READY" : "SANDBOX_NOTREADY"])
              .sort();
            expect(listedPods).toEqual(modelPods);
            const listed = (await h.runtime.listContainers({})).containers.map((c) => [c.id, c.state]).sort();
            expect(listed).toEqual([...ctrs.values()].map((c) => [c.id, c.state]).sort());
          }
          // Nothing leaks: removing every pod leaves the simulated OS and the store empty.
          for (const p of pods.values()) await h.runtime.removePodSandbox({ podSandboxId: p.id });
          expect(h.backend.sandboxIds()).toEqual([]);
          expect(h.backend.containerIds()).toEqual([]);
          expect(await h.store.load()).toEqual({ sandboxes: [], containers: [] });
        } finally {
          await h.close();
        }
      }),
      { numRuns: 100 },
    );
  });
});
