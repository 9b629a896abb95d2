/**
 * The floor under the status calls (issue #13): `floor-server.ts` in its own process, and the call
 * that times it with the bench's own client. Both daemons sit at 0.25–0.34 ms p50 on a status call;
 * this says how much of that is the client and the kernel, so that each daemon's own share (its p50
 * above the floor's, in the same run) can be read apart from them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface FloorResponder {
  socket: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the responder on `socket` (a path; a file there is replaced).
 *
 * @example
 * const floor = await startFloorResponder("/tmp/bench/floor.sock");
 * const client = new RawCriClient(floor.socket);
 * const { ms } = await client.timedFloor(341);
 * client.close();
 * await floor.stop();
 */
export async function startFloorResponder(socket: string): Promise<FloorResponder> {
  const script = fileURLToPath(new URL("./floor-server.ts", import.meta.url));
  // The bench runs under tsx (`node --import tsx`): the child gets the same loader.
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, script, socket], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let said = "";
    // A responder that never listened is not left behind, nor its timer.
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`floor responder: ${why}`));
    };
    const timer = setTimeout(() => fail(`not listening on ${socket} after 10 s`), 10_000);
    child.once("error", (err) => fail(err.message));
    child.once("exit", (code) => fail(`exited with ${code} before listening`));
    child.stdout?.on("data", (d: Buffer) => {
      said += d.toString();
      if (said.includes("listening")) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve();
      }
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("floor responder: no pid");
  return {
    socket,
    pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
