/**
 * Request bodies with a size cap and a read timeout: JSON bodies (an empty body counts as `{}`) and
 * streamed archive bodies. A client that declares more bytes than it sends is answered 408 instead of
 * holding a socket and a handler forever.
 */

export interface BodyError {
  status: number;
  code: string;
  message: string;
}

/** Marks errors this module throws, so a consumer wrapping them (e.g. an import) can hand them back unchanged. */
export function isBodyError(value: unknown): value is BodyError {
  return typeof value === "object" && value !== null && (value as { bodyError?: true }).bodyError === true;
}

function bodyError(status: number, code: string, message: string): BodyError {
  const err = { status, code, message, bodyError: true };
  return err;
}

/** One read, or a 408 when nothing arrives within `timeoutMs` (the reader is cancelled then). */
async function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  timeoutMs: number,
  what: string,
): Promise<Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(bodyError(408, "RequestTimeout", `${what}: no data received for ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([reader.read(), timeout]);
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export async function readJsonBody(request: Request, limit: number, timeoutMs: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge("request body", limit);
  if (!request.body) return {};
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  // The whole JSON body must arrive within the timeout: a trickle of one byte at a time is no excuse.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = Math.max(1, deadline - Date.now());
    const { done, value } = await readWithin(reader, left, "request body").catch((err: BodyError) => {
      throw isBodyError(err) && err.status === 408
        ? bodyError(408, "RequestTimeout", `request body: not received within ${timeoutMs} ms`)
        : err;
    });
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge("request body", limit);
    }
    chunks.push(value);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw bodyError(400, "InvalidArgument", `request body: invalid JSON: ${detail}`);
  }
}

/**
 * The body as a stream of chunks for a consumer that stores as it reads (image import): at most
 * `limit` bytes, and never more than `idleTimeoutMs` without a byte (a large body may take long as a whole).
 */
export async function* streamBody(
  request: Request,
  limit: number,
  idleTimeoutMs: number,
): AsyncGenerator<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge("archive", limit);
  if (!request.body) return;
  const reader = request.body.getReader();
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await readWithin(reader, idleTimeoutMs, "archive");
      if (done) return;
      size += value.byteLength;
      if (size > limit) {
        await drainBriefly(reader, idleTimeoutMs);
        throw tooLarge("archive", limit);
      }
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** How much of an over-limit upload is still read (and discarded) so that its client gets the 413. */
const DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_MS = 10_000;

/**
 * Reads and discards what a client is still sending after its upload went over the limit, up to
 * DRAIN_BYTES or DRAIN_MS: a client that is still writing when the server closes the connection sees
 * EPIPE instead of the 413 (Go's net/http and nginx linger the same way). Whatever is left after that
 * is cut off with the connection.
 */
async function drainBriefly(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleTimeoutMs: number,
): Promise<void> {
  const until = Date.now() + DRAIN_MS;
  let drained = 0;
  try {
    while (drained < DRAIN_BYTES && Date.now() < until) {
      const { done, value } = await readWithin(
        reader,
        Math.min(idleTimeoutMs, until - Date.now()),
        "archive",
      );
      if (done) return;
      drained += value.byteLength;
    }
  } catch {
    // stalled or broken: the connection is closed with the answer anyway
  }
}

function tooLarge(what: string, limit: number): BodyError {
  return bodyError(413, "PayloadTooLarge", `${what} is larger than the limit of ${limit} bytes`);
}
