/**
 * Leak test of real streaming sessions: 200 exec and port-forward sessions into runc containers, half
 * of them cut off by the client mid-stream, leave no helper process (runc exec, nsenter, busybox nc,
 * python3), no fd, no token or session, and no exec'd process inside the container behind.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { ContainerRecord, SandboxRecord } from "@servin/runtime-core";
import { type StreamingRuntime, type StreamingServer, startStreamingServer } from "@servin/streaming";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { channelConnect, readAll, readUntil, spdyConnect } from "../../streaming/test/clients.js";
import { childPids, openFds, until } from "../../streaming/test/proc.js";
import {
  canRunReal,
  containerRecord,
  createAndStart,
  createHarness,
  destroyHarnessDirs,
  type Harness,
  leaks,
  runPod,
  sandboxRecord,
} from "./fixtures/harness.js";

const real = canRunReal();
const V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];
/** $0 of every exec'd shell: how the processes of this test are found inside the container. */
const MARK = "servin-leak-probe";
const ECHO_PORT = 8080;
const ZERO_PORT = 8081;
const SESSIONS = 200;
const CONCURRENCY = 10;

const procText = (pid: string, file: string) => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
};

describe.skipIf(!real.ok)("streaming sessions of real containers leave nothing behind", () => {
  let h: Harness;
  let server: StreamingServer;
  let pod: SandboxRecord;
  let target: ContainerRecord;
  let zero: ContainerRecord;
  /** The pod's network namespace as the kernel names it (`net:[inode]`), for spotting its helpers. */
  let podNetns = "";
  const containers = new Map<string, ContainerRecord>();

  beforeAll(async () => {
    h = await createHarness();
    pod = await runPod(h.backend, sandboxRecord());
    const start = async (command: string[]) => {
      const c = await createAndStart(h.backend, containerRecord(pod, h.image, { command }), pod);
      containers.set(c.id, c);
      return c;
    };
    target = await start(["sleep", "3600"]);
    // an echo listener and a source of endless zeros (a session is cut while bytes flow)
    await start(["nc", "-ll", "-p", String(ECHO_PORT), "-e", "cat"]);
    zero = await start(["nc", "-ll", "-p", String(ZERO_PORT), "-e", "cat", "/dev/zero"]);
    podNetns = Buffer.from((await h.backend.execSync(target, ["readlink", "/proc/self/ns/net"], 10)).stdout)
      .toString()
      .trim();
    const streaming = h.backend.streaming!;
    const runtime: StreamingRuntime = {
      exec: (spec, io) => streaming.exec(containers.get(spec.containerId)!, spec, io),
      attach: (spec, io) => streaming.attach(containers.get(spec.containerId)!, spec, io),
      portForward: (spec, stream, signal) => streaming.portForward(pod, spec.port, stream, signal),
    };
    server = await startStreamingServer({ runtime, closeGraceMs: 1_000 });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    for (const c of containers.values()) await h.backend.removeContainer(c, undefined).catch(() => {});
    if (pod) await h.backend.removeSandbox(pod).catch(() => {});
    expect(await leaks(h)).toEqual([]);
    await h.backend.close();
    destroyHarnessDirs(h);
  }, 60_000);

  /**
   * Per-session helpers anywhere on the host that belong to this test: `runc exec` of its containers,
   * python3 attach relays naming them, and nsenter / busybox nc inside its pod's network namespace
   * (conmon names the container too, but stays for the container's life: it is not a session helper).
   */
  const helpersOnHost = (): string[] => {
    const ids = [...containers.keys()];
    const found: string[] = [];
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
      const args = procText(pid, "cmdline").split("\0").filter(Boolean);
      if (args.length === 0) continue;
      const line = args.join(" ");
      const bin = args[0]!.split("/").pop()!;
      let netns = "";
      try {
        netns = readlinkSync(`/proc/${pid}/ns/net`);
      } catch {}
      const runcExec = bin === "runc" && args.includes("exec") && ids.some((id) => args.includes(id));
      const relay = bin.startsWith("python3") && ids.some((id) => line.includes(id));
      const forward =
        (bin === "nsenter" && childPids().includes(Number(pid))) ||
        (bin === "busybox" && args[1] === "nc" && netns === podNetns);
      if (runcExec || relay || forward) found.push(`${pid}: ${line}`);
    }
    return found;
  };

  /** Processes inside the container that this test exec'd (found by their $0). */
  const execdInContainer = async (): Promise<string[]> => {
    const ps = await h.backend.execSync(target, ["ps", "-o", "pid,args"], 10);
    return Buffer.from(ps.stdout)
      .toString()
      .split("\n")
      .filter((l) => l.includes(MARK));
  };

  /** Children of the zero source's nc (its `cat /dev/zero` per connection) still running. */
  const zeroSources = async (): Promise<string[]> => {
    const ps = await h.backend.execSync(zero, ["ps", "-o", "pid,args"], 10);
    return Buffer.from(ps.stdout)
      .toString()
      .split("\n")
      .filter((l) => /cat \/dev\/zero$/.test(l.trim()) && !l.includes("nc "));
  };

  /** One session; `cut` destroys the client's socket mid-stream instead of finishing. */
  async function session(i: number, cut: boolean): Promise<void> {
    const kind = i % 4;
    if (kind === 0) {
      // exec over SPDY v4, pipes: cut while cat waits on stdin
      const { url } = server.getExec({
        containerId: target.id,
        cmd: ["sh", "-c", "echo start; cat", MARK],
        stdin: true,
        stdout: true,
        stderr: true,
      });
      const client = await spdyConnect(url, V4, { spdystream: true });
      const error = await client.open({ streamtype: "error" });
      const stdin = await client.open({ streamtype: "stdin" });
      const stdout = await client.open({ streamtype: "stdout" });
      await client.open({ streamtype: "stderr" });
      await readUntil(stdout, "start\n");
      if (cut) return void client.socket.destroy();
      stdin.end(`line ${i}\n`);
      const [status, out] = await Promise.all([readAll(error), readAll(stdout)]);
      expect(JSON.parse(status).status).toBe("Success");
      expect(out).toBe(`line ${i}\n`); // "start" was read above
      client.close();
    } else if (kind === 1) {
      // exec over WebSocket v5, every other one with a tty: cut while the process writes without pause
      const tty = i % 8 === 1;
      const { url } = server.getExec({
        containerId: target.id,
        cmd: [
          "sh",
          "-c",
          'echo start; while read l; do [ "$l" = q ] && exit 0; [ "$l" = spin ] && while :; do echo spin; done; echo "got $l"; done',
          MARK,
        ],
        stdin: true,
        stdout: true,
        tty,
      });
      const client = await channelConnect(url, ["v5.channel.k8s.io"]);
      if (tty) client.send(4, JSON.stringify({ Width: 80, Height: 24 }));
      await client.waitFor(1, "start");
      client.send(0, `x${i}\n`);
      await client.waitFor(1, `got x${i}`);
      if (cut) {
        client.send(0, "spin\n");
        await client.waitFor(1, /(spin\r?\n){3}/);
        return void client.ws.terminate();
      }
      client.send(0, "q\n");
      await client.closed;
      expect(JSON.parse(client.text(3)).status).toBe("Success");
    } else if (kind === 2) {
      // port-forward over SPDY to the echo listener
      const { url } = server.getPortForward({ podSandboxId: pod.id });
      const client = await spdyConnect(url, ["portforward.k8s.io"], { spdystream: true });
      const headers = { port: String(ECHO_PORT), requestid: String(i) };
      const error = await client.open({ ...headers, streamtype: "error" });
      error.end();
      const data = await client.open({ ...headers, streamtype: "data" });
      data.write(`ping ${i}`);
      await readUntil(data, `ping ${i}`);
      if (cut) return void client.socket.destroy();
      data.end();
      await readAll(data);
      client.close();
    } else {
      // port-forward over WebSocket to the zero source: cut while zeros stream
      const { url } = server.getPortForward({ podSandboxId: pod.id });
      const client = await channelConnect(`${url}?port=${ZERO_PORT}`, ["v4.channel.k8s.io"]);
      await until(
        () => (client.channels.get(0)?.reduce((n, b) => n + b.length, 0) ?? 0) > 64 * 1024,
        "zeros",
      );
      if (cut) return void client.ws.terminate();
      client.ws.close();
      await client.closed;
    }
  }

  it(`${SESSIONS} exec and port-forward sessions, half cut off mid-stream: no helper, fd, token or exec'd process left`, async () => {
    // the listeners may take a moment to come up; every path once, so lazily opened fds are in the baseline
    for (let attempt = 0; ; attempt++) {
      try {
        for (let k = 0; k < 4; k++) await session(k, false);
        break;
      } catch (err) {
        if (attempt > 30) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await session(5, false); // WebSocket exec without a tty (1 has one)
    await until(
      () => server.stats().activeSessions === 0 && childPids().length === 0,
      "the warm-up to settle",
      20_000,
    );
    const fdsBefore = openFds();

    let next = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (next < SESSIONS) {
        const i = next++;
        // alternate cut and finished in blocks of four, so every kind is cut half the time
        await session(i, Math.floor(i / 4) % 2 === 0).catch((err) =>
          failures.push(`session ${i}: ${(err as Error).message}`),
        );
      }
    };
    // while sessions run, the same probes must see their helpers: proof that they would see a leak
    const seen = { helpers: 0, execd: 0 };
    let running = true;
    const probe = (async () => {
      while (running) {
        seen.helpers = Math.max(seen.helpers, helpersOnHost().length);
        seen.execd = Math.max(seen.execd, (await execdInContainer()).length);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    running = false;
    await probe;
    expect(failures).toEqual([]);
    expect(seen.helpers).toBeGreaterThan(0);
    expect(seen.execd).toBeGreaterThan(0);

    await until(() => server.stats().activeSessions === 0, "every session to end", 30_000);
    expect(server.stats()).toEqual({ pendingRequests: 0, activeSessions: 0 });
    await until(() => childPids().length === 0, `child processes to exit (${childPids().join(" ")})`, 30_000);
    expect(helpersOnHost()).toEqual([]);
    await until(() => openFds() <= fdsBefore, `fds back to ${fdsBefore} (now ${openFds()})`, 30_000);
    expect(openFds()).toBeLessThanOrEqual(fdsBefore);
    // inside the container: no exec'd shell, cat or spin loop; no zero source still writing
    for (
      let i = 0;
      i < 50 && ((await execdInContainer()).length > 0 || (await zeroSources()).length > 0);
      i++
    )
      await new Promise((r) => setTimeout(r, 200));
    expect(await execdInContainer()).toEqual([]);
    expect(await zeroSources()).toEqual([]);
  }, 180_000);
});
