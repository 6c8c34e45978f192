import { ProtoWriter } from './protobufWriter.js';

/** ONNX TensorProto.DataType codes for the element types we emit. */
export const OnnxDataType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, double: 11 } as const;
export type OnnxElemType = keyof typeof OnnxDataType;

export type AttrValue =
  | { kind: 'int'; v: number }
  | { kind: 'float'; v: number }
  | { kind: 'string'; v: string }
  | { kind: 'ints'; v: readonly number[] }
  | { kind: 'floats'; v: readonly number[] }
  | { kind: 'tensor'; v: OnnxTensor };

export interface OnnxTensor {
  name: string;
  type: OnnxElemType;
  dims: readonly number[];
  /** Little-endian raw bytes of the tensor data. */
  raw: Uint8Array;
}

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name: string;
  attrs: Record<string, AttrValue>;
  domain?: string;
}

export interface OnnxValueInfo {
  name: string;
  type: OnnxElemType;
  /** number = fixed size, string = symbolic dimension. */
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModelMeta {
  opset: number;
  /** Extra operator-set domains, e.g. { 'com.microsoft': 1 } for ORT contrib ops. */
  domains?: Record<string, number>;
  producer: string;
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

// Field numbers from onnx/onnx.proto (stable since IR v3).
function writeTensor(w: ProtoWriter, t: OnnxTensor): void {
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, OnnxDataType[t.type]);
  w.string(8, t.name);
  w.bytes(9, t.raw);
}

function writeAttr(w: ProtoWriter, name: string, a: AttrValue): void {
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.v).int(20, 1);
      break;
    case 'int':
      w.int(3, a.v).int(20, 2);
      break;
    case 'string':
      w.string(4, a.v).int(20, 3);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, a.v)).int(20, 4);
      break;
    case 'floats':
      w.packedFloats(7, a.v).int(20, 6);
      break;
    case 'ints':
      w.packedInts(8, a.v).int(20, 7);
      break;
  }
}

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (tp) =>
    tp.message(1, (tt) => {
      tt.int(1, OnnxDataType[v.type]);
      tt.message(2, (sh) => {
        for (const d of v.shape) sh.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

/** Serialise a graph to ONNX ModelProto bytes (IR version 8). */
export function encodeModel(g: OnnxGraph, meta: OnnxModelMeta): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 8); // ir_version
  w.string(2, meta.producer);
  w.string(3, meta.producerVersion);
  if (meta.docString) w.string(6, meta.docString);
  w.message(7, (gw) => {
    for (const n of g.nodes) {
      gw.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, n.name);
        nw.string(4, n.opType);
        for (const [k, a] of Object.entries(n.attrs)) nw.message(5, (aw) => writeAttr(aw, k, a));
        if (n.domain) nw.string(7, n.domain);
      });
    }
    gw.string(2, g.name);
    for (const t of g.initializers) gw.message(5, (tw) => writeTensor(tw, t));
    for (const v of g.inputs) gw.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of g.outputs) gw.message(12, (vw) => writeValueInfo(vw, v));
  });
  w.message(8, (ow) => ow.string(1, '').int(2, meta.opset));
  for (const [domain, version] of Object.entries(meta.domains ?? {})) w.message(8, (ow) => ow.string(1, domain).int(2, version));
  for (const [k, v] of Object.entries(meta.metadata ?? {})) w.message(14, (mw) => mw.string(1, k).string(2, v));
  return w.finish();
}
