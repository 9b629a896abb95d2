/**
 * The local side of `exec -it` and `attach`: raw mode on the terminal (restored on every way out,
 * signals included) and its window size, sent first and again on every SIGWINCH.
 */
import type { ReadStream, WriteStream } from "node:tty";
import type { TerminalSize } from "../streaming-client.js";

export interface LocalTerminal {
  /** The terminal's size now and after every change; ends at `restore()`. Null when no output is a terminal. */
  sizes: AsyncIterable<TerminalSize> | null;
  /** Leaves raw mode and stops following the size; safe to call more than once. */
  restore(): void;
}

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 } as const;

/**
 * Puts stdin in raw mode when `raw` (keys go to the remote side as typed: ^C reaches the remote
 * process, as with kubectl and docker) and follows the window size of whichever of stdout/stderr is a
 * terminal. A signal that still reaches us (SIGTERM, SIGHUP) restores the terminal, then exits 128+n.
 *
 * @example
 * const terminal = openLocalTerminal(true);
 * try { await runRemoteCommand(url, { stdin: process.stdin, stdout: process.stdout, resize: terminal.sizes }); }
 * finally { terminal.restore(); }
 */
export function openLocalTerminal(raw: boolean): LocalTerminal {
  const input = process.stdin as ReadStream;
  const output = [process.stdout, process.stderr].find((s) => s.isTTY) as WriteStream | undefined;
  const wasRaw = input.isTTY ? input.isRaw : false;
  if (raw && input.isTTY) input.setRawMode(true);

  let done = false;
  let wake: (() => void) | undefined;
  const onResize = () => wake?.();
  output?.on("resize", onResize);

  const onSignal = (signal: keyof typeof SIGNALS) => {
    restore();
    process.exit(128 + SIGNALS[signal]);
  };
  const handlers = Object.keys(SIGNALS).map((name) => {
    const signal = name as keyof typeof SIGNALS;
    const handler = () => onSignal(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const onExit = () => restore();
  process.once("exit", onExit);

  function restore(): void {
    if (done) return;
    done = true;
    if (raw && input.isTTY) input.setRawMode(wasRaw);
    output?.off("resize", onResize);
    for (const [signal, handler] of handlers) process.off(signal, handler);
    process.off("exit", onExit);
    wake?.();
  }

  async function* sizes(): AsyncIterable<TerminalSize> {
    let last = "";
    while (!done) {
      const [width, height] = output!.getWindowSize();
      const key = `${width}x${height}`;
      if (key !== last && width > 0 && height > 0) {
        last = key;
        yield { width, height };
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }

  return { sizes: output ? sizes() : null, restore };
}
