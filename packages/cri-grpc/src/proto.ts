/** Loads Servin's CRI .proto and builds the gRPC service definitions for runtime.v1 and runtime.v1alpha2. */
import { fileURLToPath } from "node:url";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";
import { MalformedWire } from "@servin/cri-messages";
import { PROTO_FALLBACK, ProtoDecoders } from "./_proto-decode.js";
import { ProtoEncoders } from "./_proto-encode.js";

/** Absolute path of `proto/runtime_v1.proto` (shipped in the package's `proto/` directory). */
// src/ and dist/ are both one level below the package root, so the same relative URL works for both.
export const CRI_PROTO_PATH: string = fileURLToPath(new URL("../proto/runtime_v1.proto", import.meta.url));

/**
 * The proto-loader options that define the "proto" wire format of @servin/cri-messages:
 * lowerCamelCase keys, int64 as decimal strings, enums by name, bytes as Buffer,
 * proto3 defaults filled in.
 *
 * @example
 * const def = protoLoader.loadSync(CRI_PROTO_PATH, { ...PROTO_LOADER_OPTIONS });
 */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
});

/** The CRI API versions Servin serves. */
export type CriApiVersion = "v1" | "v1alpha2";
export const CRI_API_VERSIONS: readonly CriApiVersion[] = ["v1", "v1alpha2"];

export interface CriServiceDefinitions {
  RuntimeService: ServiceDefinition;
  ImageService: ServiceDefinition;
}

let cached:
  | { packageDefinition: PackageDefinition; byVersion: Record<CriApiVersion, CriServiceDefinitions> }
  | undefined;

/**
 * The loaded package definition of `runtime.v1` (messages and services), for
 * tools that want the raw proto-loader view (reflection, tests).
 *
 * @example
 * const def = loadCriPackageDefinition();
 * def["runtime.v1.ContainerConfig"]; // { format, type: DescriptorProto }
 */
export function loadCriPackageDefinition(): PackageDefinition {
  return load().packageDefinition;
}

/**
 * The gRPC service definitions of RuntimeService and ImageService for one CRI
 * API version. `runtime.v1alpha2` is generated from the same `runtime.v1`
 * definitions: only the method paths change (`/runtime.v1alpha2.RuntimeService/Version`);
 * serializers are shared, because the package name never appears on the wire.
 *
 * @example
 * const { RuntimeService } = criServiceDefinitions("v1alpha2");
 * RuntimeService.Version.path; // "/runtime.v1alpha2.RuntimeService/Version"
 */
export function criServiceDefinitions(version: CriApiVersion): CriServiceDefinitions {
  return load().byVersion[version];
}

function load() {
  if (cached) return cached;
  const packageDefinition = loadSync(CRI_PROTO_PATH, { ...PROTO_LOADER_OPTIONS });
  const v1 = {
    RuntimeService: serviceOf(packageDefinition, "runtime.v1.RuntimeService"),
    ImageService: serviceOf(packageDefinition, "runtime.v1.ImageService"),
  };
  const v1alpha2 = {
    RuntimeService: repackage(v1.RuntimeService, "runtime.v1", "runtime.v1alpha2"),
    ImageService: repackage(v1.ImageService, "runtime.v1", "runtime.v1alpha2"),
  };
  cached = { packageDefinition, byVersion: { v1, v1alpha2 } };
  return cached;
}

function serviceOf(def: PackageDefinition, name: string): ServiceDefinition {
  const service = def[name];
  if (!service || "format" in service) throw new Error(`${CRI_PROTO_PATH}: service ${name} is missing`);
  // Malformed request bytes are the caller's error, and a method's decode must not throw
  // (h2/grpc.ts GrpcMethod): hand the handler a MalformedWire (InvalidArgument) instead.
  const out: Record<string, ServiceDefinition[string]> = {};
  const pkg = name.slice(0, name.lastIndexOf("."));
  const encoders = new ProtoEncoders(def, pkg);
  const decoders = new ProtoDecoders(def, pkg);
  for (const [method, m] of Object.entries(service as ServiceDefinition)) {
    const protobufjs = m.requestDeserialize;
    const responseType = (m as { responseType?: { type?: { name?: string } } }).responseType?.type?.name;
    const requestType = (m as { requestType?: { type?: { name?: string } } }).requestType?.type?.name;
    // Plain requests (status, list, stop, remove…) are read straight from their bytes (see _proto-decode.ts).
    const direct = requestType ? decoders.decoder(requestType) : undefined;
    const parse = direct
      ? (bytes: Buffer) => {
          const decoded = direct(bytes);
          return decoded === PROTO_FALLBACK ? protobufjs(bytes) : decoded;
        }
      : protobufjs;
    out[method] = {
      ...m,
      // Answers are encoded directly from the wire objects (see _proto-encode.ts): no protobufjs copy.
      ...(responseType ? { responseSerialize: encoders.encoder(responseType) } : {}),
      requestDeserialize: (bytes: Buffer) => {
        try {
          return parse(bytes);
        } catch (err) {
          return new MalformedWire(`malformed protobuf: ${(err as Error).message}`);
        }
      },
    };
  }
  return out as ServiceDefinition;
}

/** Copies a service definition under another package: same messages, paths `/NEWPKG.Service/Method`. */
function repackage(service: ServiceDefinition, from: string, to: string): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [method, def] of Object.entries(service)) {
    const prefix = `/${from}.`;
    if (!def.path.startsWith(prefix)) throw new Error(`unexpected method path ${def.path}`);
    out[method] = { ...def, path: `/${to}.${def.path.slice(prefix.length)}` };
  }
  return out as ServiceDefinition;
}
