/** The four conversions transports use: decode/encode requests and responses of any RPC, in JSON or proto form. */
import { CriError, isCriError } from "@servin/cri-types";
import {
  buildMessageSchema,
  decodeWith,
  FAST_FAIL,
  type FastDecoder,
  fastDecoder,
  isObjectLike,
  messageSchema,
  type Requirement,
} from "./_decode.js";
import { encodeMessage } from "./_encode.js";
import type { MessageDef } from "./_schema.js";
import { isRpcName, type RequestOf, type ResponseOf, RPCS, type RpcName } from "./rpcs.js";

/** Which wire spelling a message arrives in: JSON (snake_case) or protobuf objects (camelCase). */
export type WireFormat = "json" | "proto";

type AnySchema = ReturnType<typeof messageSchema>;
/** A message's valibot schema (every problem named) and its fast decoder (plainly valid input only). */
interface Decoder {
  readonly schema: AnySchema;
  readonly fast: FastDecoder;
}
/** By format, then RPC: no key string is built per call. */
const requestDecoders: Record<WireFormat, Map<RpcName, Decoder>> = { json: new Map(), proto: new Map() };
const responseDecoders = new WeakMap<MessageDef<unknown>, Decoder>();

interface UntypedSpec {
  readonly request: MessageDef<unknown>;
  readonly response: MessageDef<unknown>;
  readonly requires?: Requirement;
}

/**
 * What a transport hands to `decodeRequest` when the request's bytes could not
 * even be parsed (malformed protobuf): decoding it throws InvalidArgument with
 * `reason`, so such a request is the caller's error like any other bad input.
 *
 * @example
 * decodeRequest("version", new MalformedWire("malformed protobuf: index out of range"), "proto");
 * // throws CriError InvalidArgument "request: malformed protobuf: index out of range"
 */
export class MalformedWire {
  constructor(readonly reason: string) {}
}

function spec(rpc: RpcName): UntypedSpec {
  if (!isRpcName(rpc))
    throw new CriError("Unimplemented", `unknown CRI method ${JSON.stringify(String(rpc))}`);
  return RPCS[rpc] as unknown as UntypedSpec;
}

function requestDecoder(rpc: RpcName, format: WireFormat): Decoder {
  const decoders = format === "proto" ? requestDecoders.proto : requestDecoders.json;
  let decoder = decoders.get(rpc);
  if (!decoder) {
    const s = spec(rpc);
    decoder = {
      schema: s.requires
        ? buildMessageSchema(s.request, s.requires, format, "request")
        : messageSchema(s.request, "request"),
      fast: fastDecoder(s.request, s.requires, "request"),
    };
    decoders.set(rpc, decoder);
  }
  return decoder;
}

function responseDecoder(def: MessageDef<unknown>): Decoder {
  let decoder = responseDecoders.get(def);
  if (!decoder) {
    decoder = { schema: messageSchema(def, "response"), fast: fastDecoder(def, undefined, "response") };
    responseDecoders.set(def, decoder);
  }
  return decoder;
}

function decode(
  decoder: Decoder,
  wire: unknown,
  format: WireFormat,
  side: "request" | "response",
  code: "InvalidArgument" | "Internal",
): unknown {
  const root = format === "json" ? `${side} body` : side;
  if (wire instanceof MalformedWire) {
    throw new CriError(code, `${root}: ${wire.reason}`, {
      details: { fields: [{ path: root, message: wire.reason }] },
    });
  }
  // No body at all is the empty message; anything else must be an object.
  const input = wire === undefined ? {} : wire;
  if (!isObjectLike(input)) {
    const expected = format === "json" ? "expected a JSON object" : "expected an object";
    throw new CriError(code, `${root}: ${expected}`, {
      details: { fields: [{ path: root, message: expected }] },
    });
  }
  try {
    // Plainly valid input (nearly every call) is decoded by plain code; the rest goes through valibot,
    // which names every problem. The fast path reads the same keys, so a throwing getter throws there too.
    const fast = decoder.fast(input);
    if (fast !== FAST_FAIL) return fast;
    return decodeWith(decoder.schema, input, root, code);
  } catch (err) {
    if (isCriError(err)) throw err;
    // Hostile input (getters that throw, proxies) must still surface as a CriError.
    throw new CriError(code, `${root}: could not be decoded`, { cause: err });
  }
}

function encode(rpc: RpcName, side: "request" | "response", run: () => unknown): unknown {
  try {
    return run();
  } catch (err) {
    if (isCriError(err)) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw CriError.internal(`cannot encode the ${side} of ${rpc}: ${why}`, err);
  }
}

/**
 * Decodes a request from the wire into the domain request of `rpc`.
 * JSON accepts snake_case and lowerCamelCase keys; proto accepts proto-loader objects.
 *
 * @throws CriError InvalidArgument listing every offending field path, e.g.
 *   `config.metadata.name: expected a non-empty string; config.labels.app: expected string`.
 * @example
 * const req = decodeRequest("runPodSandbox", { config: { metadata: { name: "web" } } }, "json");
 * req.config.metadata.name; // "web"
 */
export function decodeRequest<R extends RpcName>(rpc: R, wire: unknown, format: WireFormat): RequestOf<R> {
  return decode(requestDecoder(rpc, format), wire, format, "request", "InvalidArgument") as RequestOf<R>;
}

/**
 * Encodes the domain response of `rpc` for the wire. The JSON Version
 * response is wrapped as `{"version": {…}}` (the HTTP API's contract).
 *
 * @example
 * encodeResponse("pullImage", { imageRef: "sha256:…" }, "json"); // { image_ref: "sha256:…" }
 */
export function encodeResponse<R extends RpcName>(rpc: R, value: ResponseOf<R>, format: WireFormat): unknown {
  const s = spec(rpc);
  return encode(rpc, "response", () => {
    const out = encodeMessage(s.response, value, format);
    return rpc === "version" && format === "json" ? { version: out } : out;
  });
}

/**
 * Encodes a domain request for the wire (for clients).
 *
 * @example
 * encodeRequest("stopContainer", { containerId: "3f2a", timeout: 10 }, "proto");
 * // { containerId: "3f2a", timeout: "10" }
 */
export function encodeRequest<R extends RpcName>(rpc: R, value: RequestOf<R>, format: WireFormat): unknown {
  const s = spec(rpc);
  return encode(rpc, "request", () => encodeMessage(s.request, value, format));
}

/**
 * Decodes a response from the wire into the domain response of `rpc` (for
 * clients). The JSON Version response is accepted wrapped or bare.
 *
 * @throws CriError Internal naming every offending field when the server sent a malformed response.
 * @example
 * decodeResponse("runPodSandbox", { pod_sandbox_id: "9c1e…" }, "json"); // { podSandboxId: "9c1e…" }
 */
export function decodeResponse<R extends RpcName>(rpc: R, wire: unknown, format: WireFormat): ResponseOf<R> {
  const s = spec(rpc);
  let input = wire;
  if (rpc === "version" && format === "json" && isObjectLike(wire) && isObjectLike(wire.version)) {
    input = wire.version;
  }
  return decode(responseDecoder(s.response), input, format, "response", "Internal") as ResponseOf<R>;
}
