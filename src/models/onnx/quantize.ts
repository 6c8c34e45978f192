import { MedsamError } from '../../common/errors.js';
import {
  decodeOnnx,
  DT,
  encodeOnnx,
  floatValues,
  toNumber,
  unsupportedFields,
  type ProtoModel,
  type ProtoNode,
  type ProtoTensor,
} from './onnxProto.js';

/**
 * Dynamic int8 quantisation of an ONNX graph's linear layers (the fast `--precision int8` mode).
 *
 * Every `MatMul` whose weight (second input) is a constant float initializer, 2-D [k, n] or a
 * batch of per-head matrices [heads, k, n], becomes ONNX Runtime's `com.microsoft.DynamicQuantizeMatMul`:
 * the weight is stored as int8 with one scale per output column (per head) (symmetric, zero point 0: w ≈ scale[j]·q[i,j], |q| ≤ 127), the activation is
 * quantised to uint8 per tensor at run time, and the product runs in ORT's u8s8 integer GEMM (VNNI /
 * AMX kernels where the CPU has them), rescaled to float. A following `Add` of a 1-D constant bias
 * is folded into the op's bias input. Activation × activation products (attention scores) and
 * everything else stay float32.
 *
 * onnxruntime has a Python quantiser but no JavaScript one, and the pass is small: it works on the
 * protobufjs-decoded model (onnxProto.ts), so it applies to our own SAM2 graphs and to third-party
 * files (the default model's encoder) alike.
 */

/** Bump when the pass changes its output, so cached int8 graphs and files are rebuilt. */
export const QUANTIZE_VERSION = 'int8-dqmm-2';

export interface QuantizeOptions {
  /** Weights with fewer elements stay float (tiny GEMMs gain nothing and lose accuracy). */
  minWeightElements?: number;
  /** Names of MatMul nodes to leave float. */
  skip?: (node: ProtoNode, k: number, n: number) => boolean;
}

export interface QuantizeReport {
  /** MatMuls rewritten to DynamicQuantizeMatMul. */
  quantized: number;
  /** ... of which had their bias Add folded in. */
  biasFolded: number;
  /** Float weight bytes replaced by int8 bytes. */
  weightBytesBefore: number;
  weightBytesAfter: number;
}

/** Per-column symmetric int8 weights of a row-major [k, n] matrix. */
export function quantizeColumns(w: Float32Array, k: number, n: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let i = 0; i < k; i++) {
    const row = i * n;
    for (let j = 0; j < n; j++) {
      const a = Math.abs(w[row + j]!);
      if (a > scale[j]!) scale[j] = a;
    }
  }
  for (let j = 0; j < n; j++) scale[j] = scale[j]! > 0 ? scale[j]! / 127 : 1;
  const q = new Int8Array(k * n);
  for (let i = 0; i < k; i++) {
    const row = i * n;
    for (let j = 0; j < n; j++) q[row + j] = Math.max(-127, Math.min(127, Math.round(w[row + j]! / scale[j]!)));
  }
  return { q, scale };
}

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function tensor(name: string, dataType: number, dims: number[], raw: Uint8Array): ProtoTensor {
  return { name, dataType, dims, rawData: raw };
}

/** Rewrite a decoded model in place; returns what changed. */
export function quantizeModel(model: ProtoModel, opts: QuantizeOptions = {}): QuantizeReport {
  const g = model.graph;
  if (!g) throw new MedsamError('the ONNX model has no graph', 'the file is not a usable ONNX model');
  const unsupported = unsupportedFields(model);
  if (unsupported.length)
    throw new MedsamError(`cannot quantise an ONNX model with ${unsupported.join(', ')}`, 'use --precision fp32 for this model');
  const minEl = opts.minWeightElements ?? 4096;
  const inits = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const graphOutputs = new Set(g.output.map((o) => o.name ?? ''));
  // Initializers referenced by more than one node are left alone (their float copy stays needed).
  const uses = new Map<string, number>();
  const consumers = new Map<string, ProtoNode[]>();
  for (const n of g.node) {
    for (const i of n.input) {
      uses.set(i, (uses.get(i) ?? 0) + 1);
      const c = consumers.get(i);
      if (c) c.push(n);
      else consumers.set(i, [n]);
    }
  }
  const report: QuantizeReport = { quantized: 0, biasFolded: 0, weightBytesBefore: 0, weightBytesAfter: 0 };
  const dropNodes = new Set<ProtoNode>();
  const dropInits = new Set<string>();
  const newInits: ProtoTensor[] = [];
  for (const node of g.node) {
    if (node.opType !== 'MatMul' || (node.domain ?? '') !== '' || node.input.length !== 2) continue;
    const wName = node.input[1]!;
    const w = inits.get(wName);
    if (!w || (w.dims.length !== 2 && w.dims.length !== 3) || inits.has(node.input[0]!)) continue;
    // [k, n], or [heads, k, n] (per-head projections, a batch of matrices with per-head column scales)
    const dims = w.dims.map(toNumber);
    const [h, k, n] = dims.length === 3 ? (dims as [number, number, number]) : [1, dims[0]!, dims[1]!];
    if (h * k * n < minEl || opts.skip?.(node, k, n)) continue;
    const data = floatValues(w);
    if (!data || data.length !== h * k * n) continue;
    const q = new Int8Array(h * k * n);
    const scale = new Float32Array(h * n);
    for (let i = 0; i < h; i++) {
      const r = quantizeColumns(data.subarray(i * k * n, (i + 1) * k * n), k, n);
      q.set(r.q, i * k * n);
      scale.set(r.scale, i * n);
    }
    const base = `${wName}.int8`;
    newInits.push(
      tensor(base, DT.int8, dims, bytes(q)),
      tensor(`${base}.scale`, DT.float, h > 1 || dims.length === 3 ? [h, 1, n] : [n], bytes(scale)),
    );
    const inputs = [node.input[0]!, base, `${base}.scale`];
    // Fold `Add(y, bias)` when y feeds only that Add and bias is a constant [n] vector.
    const y = node.output[0]!;
    const next = consumers.get(y);
    if (dims.length === 2 && next?.length === 1 && !graphOutputs.has(y) && next[0]!.opType === 'Add' && (next[0]!.domain ?? '') === '') {
      const add = next[0]!;
      const other = add.input[0] === y ? add.input[1]! : add.input[0]!;
      const b = inits.get(other);
      if (b && b.dims.length === 1 && toNumber(b.dims[0]) === n && floatValues(b) && add.input.includes(y)) {
        inputs.push('', other);
        node.output = [...add.output];
        dropNodes.add(add);
        report.biasFolded++;
      }
    }
    node.opType = 'DynamicQuantizeMatMul';
    node.domain = 'com.microsoft';
    node.input = inputs;
    if ((uses.get(wName) ?? 0) <= 1) dropInits.add(wName);
    report.quantized++;
    report.weightBytesBefore += 4 * h * k * n;
    report.weightBytesAfter += h * (k * n + 4 * n);
  }
  g.node = g.node.filter((x) => !dropNodes.has(x));
  g.initializer = [...g.initializer.filter((t) => !dropInits.has(t.name ?? '')), ...newInits];
  if (report.quantized && !model.opsetImport.some((o) => o.domain === 'com.microsoft')) {
    model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  }
  return report;
}

/** Decode, quantise, re-encode ONNX bytes. */
export function quantizeOnnxBytes(onnx: Uint8Array, opts: QuantizeOptions = {}): { bytes: Uint8Array; report: QuantizeReport } {
  let model: ProtoModel;
  try {
    model = decodeOnnx(onnx);
  } catch (e) {
    throw new MedsamError(
      `cannot read the ONNX model to quantise it: ${e instanceof Error ? e.message : String(e)}`,
      'the file is corrupt; reinstall or re-import the model',
    );
  }
  const report = quantizeModel(model, opts);
  return { bytes: encodeOnnx(model), report };
}
