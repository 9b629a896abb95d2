/** Reads a request body as JSON with a size cap; an empty body counts as `{}`. */

export interface BodyError {
  status: number;
  code: string;
  message: string;
}

export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!request.body) return {};
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw {
      status: 400,
      code: "InvalidArgument",
      message: `request body: invalid JSON: ${detail}`,
    } satisfies BodyError;
  }
}

function tooLarge(limit: number): BodyError {
  return {
    status: 413,
    code: "PayloadTooLarge",
    message: `request body is larger than the limit of ${limit} bytes`,
  };
}
