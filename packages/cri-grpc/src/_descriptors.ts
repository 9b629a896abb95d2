/**
 * The parts of proto-loader's message descriptors (its `type` objects, protobuf's DescriptorProto in
 * JSON form) that the compiled codecs read (_proto-encode.ts, _proto-decode.ts).
 */
export interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
  options?: { packed?: boolean } | null;
  oneofIndex?: number;
  proto3Optional?: boolean;
}

export interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  oneofDecl?: unknown[];
  options?: { mapEntry?: boolean } | null;
}

export interface EnumDescriptor {
  value: { name: string; number: number }[];
}
