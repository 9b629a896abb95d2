/** Prints a CRI-format log stream (the logs route's `format=cri`) as docker does: stdout lines on stdout, stderr lines on stderr. */
import { parseCriLogLine } from "@servin/cri-http";

/**
 * Writes each entry's content to this process's stdout or stderr, with its timestamp first when
 * `timestamps`; waits for a slow reader (a pager) instead of buffering.
 *
 * @example
 * await printCriLog(await containerLogs({ baseUrl }, id, { format: "cri" }), { timestamps: false });
 */
export async function printCriLog(
  chunks: AsyncIterable<Uint8Array>,
  opts: { timestamps: boolean },
): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  // a `P` (partial) entry continues on the stream's next entry: one timestamp per whole line
  const atLineStart = { stdout: true, stderr: true };
  for await (const chunk of chunks) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const entry = parseCriLogLine(line);
      if (!entry) continue;
      const prefix = opts.timestamps && atLineStart[entry.stream] ? `${entry.time} ` : "";
      atLineStart[entry.stream] = !entry.partial;
      await write(
        entry.stream === "stderr" ? process.stderr : process.stdout,
        `${prefix}${entry.content}${entry.partial ? "" : "\n"}`,
      );
    }
  }
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(text)) resolve();
    else stream.once("drain", resolve);
  });
}
