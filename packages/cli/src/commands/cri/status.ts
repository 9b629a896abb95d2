/** `servin cri status`: what a running server says about itself. Exit code 1 when it cannot be reached. */
import { defineCommand } from "citty";
import { consola } from "consola";
import { baseUrlOf, connect, connectArgs } from "../../connect.js";

export const statusCommand = defineCommand({
  args: {
    ...connectArgs,
    verbose: { type: "boolean", description: "Also print the runtime's verbose info" },
    json: { type: "boolean", description: "Print JSON" },
  },
  async run({ args }) {
    const cri = connect(args, 10_000);
    const health = await cri.health();
    const [version, status, pods, containers, images] = await Promise.all([
      cri.version({}),
      cri.status({ verbose: args.verbose === true }),
      cri.listPodSandbox({}),
      cri.listContainers({}),
      cri.listImages({}),
    ]);
    const running = containers.containers.filter((c) => c.state === "CONTAINER_RUNNING").length;
    const summary = {
      url: baseUrlOf(args),
      runtime_name: version.runtimeName,
      runtime_version: version.runtimeVersion,
      runtime_api_version: version.runtimeApiVersion,
      uptime_seconds: health.uptime_seconds,
      backend: health.backend,
      conditions: status.status.conditions,
      pods: pods.items.length,
      containers: containers.containers.length,
      running_containers: running,
      images: images.images.length,
      ...(args.verbose && status.info ? { info: status.info } : {}),
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    consola.log(
      `servin at ${summary.url}: ${version.runtimeName} ${version.runtimeVersion} (CRI ${version.runtimeApiVersion})`,
    );
    if (summary.uptime_seconds !== undefined)
      consola.log(`uptime: ${summary.uptime_seconds}s, backend: ${summary.backend}`);
    for (const c of status.status.conditions) {
      consola.log(
        `${c.status ? "✓" : "✗"} ${c.type}${c.reason ? ` (${c.reason})` : ""}${c.message ? `: ${c.message}` : ""}`,
      );
    }
    consola.log(
      `pods: ${summary.pods}, containers: ${summary.containers} (${running} running), images: ${summary.images}`,
    );
    if (args.verbose && status.info)
      for (const [k, v] of Object.entries(status.info)) consola.log(`${k}: ${v}`);
  },
});
