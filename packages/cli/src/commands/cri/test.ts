/**
 * `servin cri test`: exercises a running server for real — health, version,
 * status, images, and a whole pod → container → stop → remove lifecycle that
 * cleans up after itself. Prints ✓/✗ per check with its timing; exits 1 on any failure.
 */
import { randomBytes } from "node:crypto";
import type { CriClient } from "@servin/cri-http";
import { defineCommand } from "citty";
import { consola } from "consola";
import { baseUrlOf, connect, connectArgs } from "../../connect.js";

interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}

type Check = (cri: CriClient, state: LifecycleState) => Promise<string>;

interface LifecycleState {
  image: string;
  podId?: string;
  containerId?: string;
}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const checks: Array<[string, Check]> = [
  [
    "health",
    async (cri) => {
      const h = await cri.health();
      expect(h.status === "ok", `GET /health answered status "${h.status}"`);
      return "ok";
    },
  ],
  [
    "version",
    async (cri) => {
      const v = await cri.version({});
      expect(v.runtimeName === "servin", `runtime_name is "${v.runtimeName}", expected "servin"`);
      return `${v.runtimeName} ${v.runtimeVersion}, CRI ${v.runtimeApiVersion}`;
    },
  ],
  [
    "status",
    async (cri) => {
      const s = await cri.status({});
      const runtime = s.status.conditions.find((c) => c.type === "RuntimeReady");
      expect(runtime, "no RuntimeReady condition");
      expect(runtime.status, `RuntimeReady is false: ${runtime.reason} ${runtime.message}`);
      const network = s.status.conditions.find((c) => c.type === "NetworkReady");
      return `RuntimeReady, NetworkReady=${network?.status ?? "absent"}`;
    },
  ],
  [
    "image list",
    async (cri) => {
      const { images } = await cri.listImages({});
      return `${images.length} image(s)`;
    },
  ],
  [
    "image pull",
    async (cri, st) => {
      const present = await cri.imageStatus({ image: { image: st.image } });
      if (present.image) return `${st.image} already present`;
      const { imageRef } = await cri.pullImage({ image: { image: st.image } });
      return `${st.image} → ${imageRef}`;
    },
  ],
  [
    "run pod sandbox",
    async (cri, st) => {
      const name = `servin-cri-test-${randomBytes(4).toString("hex")}`;
      const { podSandboxId } = await cri.runPodSandbox({
        config: { metadata: { name, namespace: "servin-test", uid: name, attempt: 0 }, hostname: name },
      });
      st.podId = podSandboxId;
      const { status } = await cri.podSandboxStatus({ podSandboxId });
      expect(status.state === "SANDBOX_READY", `pod state is ${status.state}`);
      return podSandboxId.slice(0, 13);
    },
  ],
  [
    "create container",
    async (cri, st) => {
      expect(st.podId, "no pod (previous check failed)");
      const { containerId } = await cri.createContainer({
        podSandboxId: st.podId,
        config: {
          metadata: { name: "sleeper" },
          image: { image: st.image },
          command: ["/bin/sh"],
          args: ["-c", "sleep 3600"],
        },
      });
      st.containerId = containerId;
      const { status } = await cri.containerStatus({ containerId });
      expect(status.state === "CONTAINER_CREATED", `container state is ${status.state}`);
      return containerId.slice(0, 13);
    },
  ],
  [
    "start container",
    async (cri, st) => {
      expect(st.containerId, "no container (previous check failed)");
      await cri.startContainer({ containerId: st.containerId });
      const { status } = await cri.containerStatus({ containerId: st.containerId });
      expect(status.state === "CONTAINER_RUNNING", `container state is ${status.state}`);
      const { containers } = await cri.listContainers({ filter: { id: st.containerId.slice(0, 12) } });
      expect(containers.length === 1, `list by ID prefix found ${containers.length} containers`);
      return "running";
    },
  ],
  [
    "stop container",
    async (cri, st) => {
      expect(st.containerId, "no container (previous check failed)");
      await cri.stopContainer({ containerId: st.containerId, timeout: 2 });
      const { status } = await cri.containerStatus({ containerId: st.containerId });
      expect(status.state === "CONTAINER_EXITED", `container state is ${status.state}`);
      return `exited ${status.exitCode}${status.reason ? ` (${status.reason})` : ""}`;
    },
  ],
  [
    "remove container",
    async (cri, st) => {
      expect(st.containerId, "no container (previous check failed)");
      await cri.removeContainer({ containerId: st.containerId });
      const { containers } = await cri.listContainers({ filter: { id: st.containerId } });
      expect(containers.length === 0, "container still listed after remove");
      st.containerId = undefined;
      return "removed";
    },
  ],
  [
    "stop and remove pod",
    async (cri, st) => {
      expect(st.podId, "no pod (previous check failed)");
      await cri.stopPodSandbox({ podSandboxId: st.podId });
      await cri.removePodSandbox({ podSandboxId: st.podId });
      const { items } = await cri.listPodSandbox({ filter: { id: st.podId } });
      expect(items.length === 0, "pod still listed after remove");
      st.podId = undefined;
      return "removed";
    },
  ],
];

/** Runs every check in order against the server; leaves nothing behind even when a check fails. */
export async function runCriChecks(
  cri: CriClient,
  image: string,
  report: (r: CheckResult) => void,
): Promise<CheckResult[]> {
  const state: LifecycleState = { image };
  const results: CheckResult[] = [];
  for (const [name, check] of checks) {
    const started = performance.now();
    let result: CheckResult;
    try {
      const detail = await check(cri, state);
      result = { name, ok: true, ms: performance.now() - started, detail };
    } catch (err) {
      result = {
        name,
        ok: false,
        ms: performance.now() - started,
        detail: err instanceof Error ? err.message : String(err),
      };
    }
    results.push(result);
    report(result);
    // Without a reachable server nothing else can pass: say it once.
    if (!result.ok && name === "health") break;
  }
  // Clean up whatever a failed check left behind.
  if (state.containerId) await cri.removeContainer({ containerId: state.containerId }).catch(() => {});
  if (state.podId) {
    await cri.stopPodSandbox({ podSandboxId: state.podId }).catch(() => {});
    await cri.removePodSandbox({ podSandboxId: state.podId }).catch(() => {});
  }
  return results;
}

export const testCommand = defineCommand({
  args: {
    ...connectArgs,
    image: {
      type: "string",
      description: "Image for the lifecycle checks (pulled when absent)",
      default: "busybox:latest",
    },
  },
  async run({ args }) {
    const cri = connect(args, 120_000);
    consola.log(`testing servin at ${baseUrlOf(args)}`);
    const results = await runCriChecks(cri, args.image ?? "busybox:latest", (r) => {
      const line = `${r.ok ? "✓" : "✗"} ${r.name.padEnd(20)} ${`${r.ms.toFixed(0)}ms`.padStart(7)}  ${r.detail}`;
      consola.log(line);
    });
    const failed = results.filter((r) => !r.ok).length;
    const skipped = checks.length - results.length;
    consola.log(
      failed === 0
        ? `all ${results.length} checks passed`
        : `${failed} of ${checks.length} checks failed${skipped ? ` (${skipped} not run: server unreachable)` : ""}`,
    );
    if (failed > 0) process.exitCode = 1;
  },
});
