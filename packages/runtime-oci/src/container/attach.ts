/** Attach (streaming): the running container's stdio through conmon's attach socket, resize through conmon's control FIFO. */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { CriError } from "@servin/cri-types";
import type { ContainerRecord, StreamSessionIo, StreamTerminalSize } from "@servin/runtime-core";
import { type OciContext, paths } from "../_context.js";
import { helperBinaries } from "../_helpers.js";

/** conmon's packet types on the attach socket (conmon's ATTACH_PIPE_*: first byte of each packet). */
const PIPE_STDOUT = 2;
const PIPE_STDERR = 3;

/**
 * Node's `net` cannot connect to a SOCK_SEQPACKET socket, so a tiny python3
 * relay does: each packet from conmon goes to its stdout as a 4-byte
 * big-endian length and the packet (type byte + data); its stdin goes to the
 * socket in packets of at most 8 KiB (conmon reads 8 KiB at a time), and
 * stdin's end becomes shutdown(SHUT_WR), which conmon turns into closing the
 * container's stdin unless it runs with --leave-stdin-open (stdin_once false).
 * It exits when conmon closes the socket (the container exited). It connects
 * by a relative name from the socket's directory: the full path can pass
 * sun_path's 108 bytes (a 64-character ID under a deep state dir).
 */
const ATTACH_RELAY = `
import os, socket, struct, sys, threading
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    os.chdir(sys.argv[1])
    s.connect("attach")
except OSError as e:
    sys.stderr.write(str(e))
    sys.exit(2)
def pump():
    try:
        while True:
            d = os.read(0, 8192)
            if not d:
                break
            s.send(d)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
if sys.argv[2] == "1":
    threading.Thread(target=pump, daemon=True).start()
out = sys.stdout.buffer
while True:
    try:
        p = s.recv(65536)
    except OSError:
        break
    if not p:
        break
    out.write(struct.pack(">I", len(p)) + p)
    out.flush()
`;

/**
 * Tells conmon the terminal size: "1 <height> <width>\n" on its control FIFO `ctl`, as CRI-O does
 * (conmon 2.1's `winsz` FIFO takes "<height> <width>\n" instead); best effort.
 */
async function resizeConmonTerminal(bundle: string, size: StreamTerminalSize): Promise<void> {
  const fh = await open(join(bundle, "ctl"), constants.O_WRONLY | constants.O_NONBLOCK).catch(
    () => undefined,
  );
  if (!fh) return;
  try {
    await fh.write(`1 ${size.height} ${size.width}\n`);
  } catch {
  } finally {
    await fh.close();
  }
}

/**
 * Stdin is passed only when the container was created with `stdin`; the CRI
 * log is conmon's and untouched (attach clients get a copy of the output).
 * Resolves when the container exits or the session ends (the relay is killed).
 */
export async function attachStream(
  ctx: OciContext,
  container: ContainerRecord,
  spec: { tty: boolean; initialSize?: StreamTerminalSize },
  io: StreamSessionIo,
): Promise<void> {
  const { python3 } = helperBinaries();
  if (!python3)
    throw CriError.failedPrecondition("attach needs python3 on the host (to reach conmon's attach socket)");
  const bundle = paths.bundle(ctx, container.id);
  const tty = container.config.tty === true;
  const withStdin = container.config.stdin === true && io.stdin !== null;
  if (tty && spec.initialSize) await resizeConmonTerminal(bundle, spec.initialSize);
  const resize = tty ? io.resize : null;
  if (resize) {
    void (async () => {
      for await (const size of resize)
        if (size.width > 0 && size.height > 0) await resizeConmonTerminal(bundle, size);
    })().catch(() => {});
  }

  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      python3,
      // conmon's `attach` socket is in the bundle (conmon also links `<socket dir>/<id>` to it).
      ["-c", ATTACH_RELAY, bundle, withStdin ? "1" : "0"],
      {
        stdio: [withStdin ? "pipe" : "ignore", "pipe", "pipe"],
      },
    );
    const abort = () => child.kill("SIGKILL");
    if (io.signal.aborted) abort();
    else io.signal.addEventListener("abort", abort, { once: true });
    child.stdin?.on("error", () => {});
    if (withStdin && child.stdin) io.stdin!.pipe(child.stdin);
    let buf: Buffer = Buffer.alloc(0);
    child.stdout!.on("data", (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (buf.length < 4 + len) break;
        const packet = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        if (packet.length < 1) continue;
        const data = packet.subarray(1);
        if (packet[0] === PIPE_STDOUT) io.stdout?.write(data);
        else if (packet[0] === PIPE_STDERR) (io.stderr ?? (tty ? io.stdout : null))?.write(data);
      }
    });
    const errText: Buffer[] = [];
    child.stderr!.on("data", (d: Buffer) => errText.length < 16 && errText.push(d));
    child.once("error", (err) => {
      io.signal.removeEventListener("abort", abort);
      reject(err);
    });
    child.once("close", (code) => {
      io.signal.removeEventListener("abort", abort);
      if (withStdin && child.stdin) io.stdin!.unpipe(child.stdin);
      if (code === 2 && !io.signal.aborted) {
        reject(
          CriError.failedPrecondition(
            `attach to container "${container.id}": cannot reach conmon's attach socket: ${Buffer.concat(errText).toString().trim()}`,
          ),
        );
        return;
      }
      resolve();
    });
  });
}
