/** `servin runp POD.json|POD.yaml`: crictl's runp, RunPodSandbox from a pod config file; prints the pod ID. */
import { defineCommand } from "citty";
import { connect, connectArgs } from "../../connect.js";
import { loadPodSandboxConfig, parseCancelTimeout } from "./_config-file.js";

export const cancelTimeout = {
  type: "string",
  alias: "T",
  description: 'Seconds (or a duration such as "30s") before the request is cancelled; 0 waits',
  default: "0s",
} as const;

export const runpCommand = defineCommand({
  args: {
    ...connectArgs,
    config: { type: "positional", description: "pod-config.[json|yaml]", required: true },
    runtime: {
      type: "string",
      alias: "r",
      description: "Runtime handler to use (one of servin's [runtime.runtimes]; default the default runtime)",
    },
    "cancel-timeout": cancelTimeout,
  },
  async run({ args }) {
    const timeout = parseCancelTimeout(args["cancel-timeout"]);
    const config = await loadPodSandboxConfig(args.config);
    const { podSandboxId } = await connect(args, timeout ?? 10 * 60_000).runPodSandbox({
      config,
      ...(args.runtime ? { runtimeHandler: args.runtime } : {}),
    });
    process.stdout.write(`${podSandboxId}\n`);
  },
});
