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
/** Version of the attention-score pass (quantizeAttentionScores), part of the SAM2 int8 cache key. */
export const QUANTIZE_SCORES_VERSION = 'int8-scores-2';

export interface QuantizeOptions {
  /** Weights with fewer elements stay float (tiny GEMMs gain nothing and lose accuracy). */
  minWeightElements?: number;
  /** Names of MatMul nodes to leave float. */
  skip?: (node: ProtoNode, k: number, n: number) => boolean;
  /**
   * Also run attention scores q·kᵀ (activation × activation) in int8 (quantizeAttentionScores); a
   * function picks which score products (by their MatMul / FusedMatMul node).
   */
  attentionScores?: boolean | ((node: ProtoNode) => boolean);
  /**
   * GELUs after an int8 GEMM (`BiasGelu`): 'quick' moves the bias into the GEMM and runs
   * `QuickGelu` x·σ(1.702x) (geluAfterInt8). Default: leave them.
   */
  gelu?: 'quick';
  /**
   * Also run attention's probability × value products in int8 (quantizeAttentionValues); a
   * function picks which (by their MatMul node).
   */
  attentionValues?: boolean | ((node: ProtoNode) => boolean);
  /**
   * Run int8 attention's score → exp → P·X chains (attentionScores + attentionValues) in `blocks`
   * blocks of `rows` / `blocks` query rows (chunkAttentionRows); `only` picks the chains by their
   * score product (the DynamicQuantizeMatMul).
   */
  rowBlocks?: { blocks: number; rows: number; only?: (scores: ProtoNode) => boolean };
}

export interface QuantizeReport {
  /** MatMuls rewritten to DynamicQuantizeMatMul. */
  quantized: number;
  /** ... of which had their bias Add folded in. */
  biasFolded: number;
  /** Float weight bytes replaced by int8 bytes. */
  weightBytesBefore: number;
  weightBytesAfter: number;
  /** Attention-score products rewritten by quantizeAttentionScores. */
  scores: number;
  /** Probability × value products rewritten by quantizeAttentionValues. */
  values: number;
  /** Score → exp → P·X chains split into row blocks by chunkAttentionRows. */
  rowBlocked: number;
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
  const report: QuantizeReport = {
    quantized: 0,
    biasFolded: 0,
    weightBytesBefore: 0,
    weightBytesAfter: 0,
    scores: 0,
    values: 0,
    rowBlocked: 0,
  };
  const dropNodes = new Set<ProtoNode>();
  const dropInits = new Set<string>();
  const newInits: ProtoTensor[] = [];
  /** `Add(y, bias)` right after the MatMul, when y feeds only that Add and bias is a constant [n] vector. */
  const foldableBias = (node: ProtoNode, n: number): { add: ProtoNode; name: string } | undefined => {
    const y = node.output[0]!;
    const next = consumers.get(y);
    if (next?.length !== 1 || graphOutputs.has(y) || next[0]!.opType !== 'Add' || (next[0]!.domain ?? '') !== '') return undefined;
    const add = next[0]!;
    const other = add.input[0] === y ? add.input[1]! : add.input[0]!;
    const b = inits.get(other);
    return b && b.dims.length === 1 && toNumber(b.dims[0]) === n && floatValues(b) && add.input.includes(y)
      ? { add, name: other }
      : undefined;
  };
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
    const bias = dims.length === 2 ? foldableBias(node, n) : undefined;
    if (bias) {
      inputs.push('', bias.name);
      node.output = [...bias.add.output];
      dropNodes.add(bias.add);
      report.biasFolded++;
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
  // values first: they replace the softmax, whose input the score pass keeps by name
  if (opts.attentionValues)
    report.values = quantizeAttentionValues(model, typeof opts.attentionValues === 'function' ? opts.attentionValues : undefined);
  if (opts.attentionScores)
    report.scores = quantizeAttentionScores(model, typeof opts.attentionScores === 'function' ? opts.attentionScores : undefined);
  if (opts.rowBlocks) report.rowBlocked = chunkAttentionRows(model, opts.rowBlocks.blocks, opts.rowBlocks.rows, opts.rowBlocks.only);
  if (opts.gelu) geluAfterInt8(model, opts.gelu);
  if ((report.quantized || report.scores || report.values) && !model.opsetImport.some((o) => o.domain === 'com.microsoft')) {
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

const attrOf = (n: ProtoNode, name: string) => n.attribute.find((a) => a.name === name);
const intAttr = (n: ProtoNode, name: string, dflt = 0): number => {
  const a = attrOf(n, name);
  return a ? toNumber(a.i) : dflt;
};

/** Who produces and who reads each tensor of a graph (and its outputs): what every rewrite here walks. */
export function graphLinks(g: NonNullable<ProtoModel['graph']>): {
  producer: Map<string, ProtoNode>;
  consumers: Map<string, ProtoNode[]>;
  graphOutputs: Set<string>;
} {
  const producer = new Map<string, ProtoNode>();
  const consumers = new Map<string, ProtoNode[]>();
  for (const n of g.node) {
    for (const o of n.output) producer.set(o, n);
    for (const i of n.input) {
      const c = consumers.get(i);
      if (c) c.push(n);
      else consumers.set(i, [n]);
    }
  }
  return { producer, consumers, graphOutputs: new Set(g.output.map((o) => o.name ?? '')) };
}

/**
 * Attention scores q·kᵀ/√d in int8: for each product of two activations where the second is a
 * transposed key tensor K [..., L, d] — `MatMul(q, Transpose(K, perm))` with K's last axis moved to
 * the second-last place (the last two swapped, or e.g. [0, 2, 3, 1] from [windows, L, heads, d])
 * optionally followed by a division by a constant scalar, `FusedMatMul(q, K, transB=1, alpha)`, or
 * the same with transBatchA = transBatchB = 1 (token-major [L, heads, d] inputs) — K is
 * quantised at run time to int8 with one scale per key token (|K| max over d / 127, symmetric), and
 * the product runs as `DynamicQuantizeMatMul(q, Kq ᵀ, scale per column)` with the 1/√d (or alpha)
 * folded into the column scales; q is quantised per tensor inside the op. The softmax and the
 * probability × value product stay float32: probabilities span many orders of magnitude, which one
 * per-tensor uint8 scale would flatten. The rank of K must be known from the Transpose's perm or
 * from the Reshape (constant shape) that produced K; other products are left as they are, and so
 * are those `only` (when given) rejects. Returns how many products were rewritten.
 */
export function quantizeAttentionScores(model: ProtoModel, only?: (node: ProtoNode) => boolean): number {
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const { producer, consumers, graphOutputs } = graphLinks(g);
  const isOnly = (t: string, n: ProtoNode) => !graphOutputs.has(t) && consumers.get(t)?.length === 1 && consumers.get(t)![0] === n;
  const scalar = (t: string): number | undefined => {
    const v = inits.get(t);
    const f = v && floatValues(v);
    return f && f.length === 1 ? f[0] : undefined;
  };
  /** Rank of `t` when a Reshape with a constant (1-D) target shape produced it. */
  const rankFromReshape = (t: string): number | undefined => {
    const p = producer.get(t);
    const shape = p?.opType === 'Reshape' ? inits.get(p.input[1] ?? '') : undefined;
    return shape?.dims.length === 1 ? toNumber(shape.dims[0]) : undefined;
  };
  const swapLast = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
  const isSwapLast = (perm: number[]) => perm.length >= 2 && perm.every((v, i) => v === swapLast(perm.length)[i]);

  const opset = toNumber(model.opsetImport.find((x) => (x.domain ?? '') === '')?.version);
  const axesAsInput = opset >= 18;
  let count = 0;
  let uid = 0;
  const added: { before: ProtoNode; nodes: ProtoNode[] }[] = [];
  const drop = new Set<ProtoNode>();
  const newInits: ProtoTensor[] = [];
  const constF = (v: number): string => {
    const name = `int8_scores_c${uid++}`;
    newInits.push(tensor(name, DT.float, [], bytes(Float32Array.of(v))));
    return name;
  };
  const constI = (v: number[]): string => {
    const name = `int8_scores_i${uid++}`;
    newInits.push(tensor(name, DT.int64, [v.length], bytes(BigInt64Array.from(v.map(BigInt)))));
    return name;
  };
  let seq: ProtoNode[] = []; // nodes of the current rewrite, in creation (= topological) order
  const mk = (opType: string, input: string[], attribute: ProtoNode['attribute'] = [], domain = ''): ProtoNode => {
    const n: ProtoNode = { opType, input, output: [`int8_scores_t${uid++}`], name: `int8_scores_n${uid++}`, domain, attribute };
    seq.push(n);
    return n;
  };
  const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });
  const int = (name: string, v: number) => ({ name, type: 2, i: v });

  for (const node of g.node) {
    if (drop.has(node) || node.input.length !== 2 || node.input.some((i) => inits.has(i)) || (only && !only(node))) continue;
    let k: string | undefined;
    let rank: number | undefined;
    let perm: number[] | undefined;
    let aPerm: number[] | undefined;
    let alpha = 1;
    const removed: ProtoNode[] = [];
    if (node.opType === 'MatMul' && (node.domain ?? '') === '') {
      // Kᵀ = Transpose(K, perm) with K's last (feature) axis moved to the second-last place: the
      // last two swapped (memory attention), or e.g. [0, 2, 3, 1] from K [windows, tokens, heads, d] (Hiera)
      const t = producer.get(node.input[1]!);
      const p = t && t.opType === 'Transpose' ? (attrOf(t, 'perm')?.ints ?? []).map(toNumber) : [];
      if (!t || p.length < 2 || p[p.length - 2] !== p.length - 1 || !isOnly(node.input[1]!, node) || inits.has(t.input[0]!)) continue;
      k = t.input[0]!;
      rank = p.length;
      perm = isSwapLast(p) ? undefined : p;
      removed.push(t);
    } else if (node.opType === 'FusedMatMul' && node.domain === 'com.microsoft') {
      const batchT = intAttr(node, 'transBatchA');
      if (intAttr(node, 'transB') !== 1 || intAttr(node, 'transA') || batchT !== intAttr(node, 'transBatchB')) continue;
      k = node.input[1]!;
      rank = rankFromReshape(k);
      alpha = attrOf(node, 'alpha')?.f ?? 1;
      if (batchT) {
        // transBatch: q and K are [L, b…, d], read as [b…, L, d] (Hiera's global blocks: [L, heads, d]);
        // DynamicQuantizeMatMul has no such flag, so q is transposed explicitly and Kᵀ is [b…, d, L]
        if (!rank || rank < 3 || rankFromReshape(node.input[0]!) !== rank) continue;
        const lead = Array.from({ length: rank - 2 }, (_, i) => i + 1);
        aPerm = [...lead, 0, rank - 1];
        perm = [...lead, rank - 1, 0];
      }
    } else continue;
    if (!rank || rank < 2) continue;
    // fold a following division / multiplication by a constant scalar into the column scales
    let out = node.output[0]!;
    const next = consumers.get(out);
    if (
      next?.length === 1 &&
      !graphOutputs.has(out) &&
      (next[0]!.opType === 'Div' || next[0]!.opType === 'Mul') &&
      next[0]!.input[0] === out
    ) {
      const c = scalar(next[0]!.input[1]!);
      if (c !== undefined && c !== 0) {
        alpha *= next[0]!.opType === 'Div' ? 1 / c : c;
        removed.push(next[0]!);
        out = next[0]!.output[0]!;
      }
    }
    // per-token |K| max → int8 K (QuantizeLinear per row of K flattened to [tokens, d]) → Kᵀ
    seq = [];
    const o = (n: ProtoNode) => n.output[0]!;
    const absK = o(mk('Abs', [k]));
    // ReduceMax takes its axes as an input from opset 18, as an attribute before
    const rmax = axesAsInput
      ? mk('ReduceMax', [absK, constI([-1])], [int('keepdims', 1)])
      : mk('ReduceMax', [absK], [ints('axes', [-1]), int('keepdims', 1)]);
    const amax = mk('Max', [o(rmax), constF(1e-30)]);
    const qScale = mk('Reshape', [o(mk('Mul', [o(amax), constF(1 / 127)])), constI([-1])]);
    const zp = mk('Cast', [o(mk('Mul', [o(qScale), constF(0)]))], [int('to', DT.int8)]);
    const kq2 = mk('QuantizeLinear', [o(mk('Flatten', [k], [int('axis', -1)])), o(qScale), o(zp)], [int('axis', 0)]);
    const kqT = mk('Transpose', [o(mk('Reshape', [o(kq2), o(mk('Shape', [k]))]))], [ints('perm', perm ?? swapLast(rank))]);
    const bScaleCol = mk('Mul', [o(amax), constF(alpha / 127)]);
    const bScale =
      rank === 2 ? mk('Reshape', [o(bScaleCol), constI([-1])]) : mk('Transpose', [o(bScaleCol)], [ints('perm', perm ?? swapLast(rank))]);
    const a = aPerm ? o(mk('Transpose', [node.input[0]!], [ints('perm', aPerm)])) : node.input[0]!;
    const dq = mk('DynamicQuantizeMatMul', [a, o(kqT), o(bScale)], [], 'com.microsoft');
    dq.output = [out];
    added.push({ before: node, nodes: seq });
    drop.add(node);
    for (const r of removed) drop.add(r);
    count++;
  }
  if (!count) return 0;
  const nodes = spliceNodes(g, new Map(added.map((a) => [a.before, a.nodes])), drop);
  // drop the constants only the removed Div/Mul used (ORT warns about unused initializers)
  const used = new Set([...nodes.flatMap((n) => n.input), ...graphOutputs, ...g.input.map((i) => i.name ?? '')]);
  g.initializer = [...g.initializer.filter((t) => used.has(t.name ?? '')), ...newInits];
  if (!model.opsetImport.some((o) => o.domain === 'com.microsoft')) model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return count;
}

/**
 * `BiasGelu(DynamicQuantizeMatMul(x, W), b)` → `gelu(DynamicQuantizeMatMul(x, W, b))`: the bias rides
 * in the int8 GEMM's rescale and the activation runs as `kind` — 'exact' (com.microsoft Gelu, erf),
 * 'quick' (QuickGelu x·σ(1.702x)) or 'tanh' (FastGelu). Returns how many were rewritten.
 */
export function geluAfterInt8(model: ProtoModel, kind: 'exact' | 'quick' | 'tanh'): number {
  const g = model.graph!;
  const producer = new Map<string, ProtoNode>();
  const uses = new Map<string, number>();
  for (const n of g.node) {
    for (const o of n.output) producer.set(o, n);
    for (const i of n.input) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  let count = 0;
  for (const n of g.node) {
    if (n.opType !== 'BiasGelu' || n.domain !== 'com.microsoft') continue;
    const q = producer.get(n.input[0]!);
    if (q?.opType !== 'DynamicQuantizeMatMul' || q.input.length > 3 || uses.get(n.input[0]!) !== 1) continue;
    q.input = [...q.input, '', n.input[1]!];
    n.input = [n.input[0]!];
    n.opType = kind === 'exact' ? 'Gelu' : kind === 'quick' ? 'QuickGelu' : 'FastGelu';
    n.attribute = kind === 'quick' ? [{ name: 'alpha', type: 1, f: 1.702 }] : [];
    count++;
  }
  return count;
}

/**
 * Rank of each tensor where the graph fixes it: initializers, graph inputs, Reshape to a constant
 * shape, Transpose, Unsqueeze by constant axes, Gemm, ops that keep their first input's rank
 * (normalisations, activations, Cast) and standard broadcasting element-wise ops / MatMul /
 * FusedMatMul (the larger rank). Undefined elsewhere.
 */
export function tensorRanks(g: NonNullable<ProtoModel['graph']>): (t: string) => number | undefined {
  const inits = new Map(g.initializer.map((x) => [x.name ?? '', x]));
  const { producer } = graphLinks(g);
  const inputs = new Map(g.input.map((i) => [i.name ?? '', i]));
  const memo = new Map<string, number | undefined>();
  const keep = new Set([
    'LayerNormalization',
    'SkipLayerNormalization',
    'Relu',
    'Gelu',
    'BiasGelu',
    'QuickGelu',
    'Softmax',
    'Cast',
    'Abs',
    'Neg',
    'Sqrt',
    'Exp',
  ]);
  const broadcast = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'MatMul']);
  const rank = (t: string): number | undefined => {
    if (memo.has(t)) return memo.get(t);
    memo.set(t, undefined); // a valid graph has no cycles; guard anyway
    let r: number | undefined;
    const init = inits.get(t);
    const gi = inputs.get(t) as { type?: { tensorType?: { shape?: { dim?: unknown[] } } } } | undefined;
    const p = producer.get(t);
    const first = p?.output[0] === t || (p?.opType === 'SkipLayerNormalization' && p.output[3] === t);
    if (init) r = init.dims.length;
    else if (gi) r = gi.type?.tensorType?.shape?.dim?.length;
    else if (p?.opType === 'Reshape') {
      const s = inits.get(p.input[1] ?? '');
      r = s?.dims.length === 1 ? toNumber(s.dims[0]) : undefined;
    } else if (p && first && keep.has(p.opType ?? '')) r = rank(p.input[0]!);
    else if (p && first && p.opType === 'Gemm') r = 2;
    else if (p && first && p.opType === 'FusedMatMul' && p.domain === 'com.microsoft') {
      const rs = p.input.map(rank);
      r = rs.every((x) => x !== undefined) ? Math.max(...(rs as number[])) : undefined;
    } else if (p?.opType === 'Transpose') r = attrOf(p, 'perm')?.ints?.length || undefined;
    else if (p?.opType === 'Unsqueeze') {
      const axes = inits.get(p.input[1] ?? '');
      const r0 = rank(p.input[0]!);
      r = axes?.dims.length === 1 && r0 !== undefined ? r0 + toNumber(axes.dims[0]) : undefined;
    } else if (p && first && broadcast.has(p.opType ?? '') && (p.domain ?? '') === '') {
      const rs = p.input.map(rank);
      r = rs.every((x) => x !== undefined) ? Math.max(...(rs as number[])) : undefined;
    }
    memo.set(t, r);
    return r;
  };
  return rank;
}

/**
 * Rewrites the graph's node list in order: each node's inserted sequence (`before`) comes right
 * before it, and the nodes in `drop` go. Returns (and sets) the new list.
 */
export function spliceNodes(
  g: NonNullable<ProtoModel['graph']>,
  before: ReadonlyMap<ProtoNode, ProtoNode[]>,
  drop: ReadonlySet<ProtoNode>,
): ProtoNode[] {
  const nodes: ProtoNode[] = [];
  for (const n of g.node) {
    const a = before.get(n);
    if (a) nodes.push(...a);
    if (!drop.has(n)) nodes.push(n);
  }
  g.node = nodes;
  return nodes;
}

/** Node and constant makers for a pass that splices new nodes into a graph (names under one prefix). */
export interface SubgraphKit {
  constT(dataType: number, dims: number[], raw: Uint8Array): string;
  constF(v: number[] | number): string;
  constI(v: number[]): string;
  /** Appends a node to the sequence under construction; returns its (one) output's name. */
  mk(opType: string, input: string[], attribute?: ProtoNode['attribute'], domain?: string): string;
  int(name: string, v: number): NonNullable<ProtoNode['attribute']>[number];
  /** ReduceMax over one axis, its axes an input (opset ≥ 18) or an attribute (before). */
  reduceMax(t: string, axis: number, keepdims: number): string;
}

/**
 * The weights × values step of an int8 probability × value product: from `rows` (the scores, or the
 * softmax's output when `readsSoftmax`, flattened to 2-D rows) and X quantised with its column of
 * ones ([Xq | 1] int8 and its column scales), the nodes giving [rows, C + 1] = weights · [X | 1].
 */
export interface ValueProductStep {
  /** Whether it reads the softmax's output (the softmax stays) or the scores (the softmax goes). */
  readsSoftmax: boolean;
  /** `axis`: the rows' last axis (1 for flattened 2-D rows, 2 for batched [b, L, M] weights). */
  build(k: SubgraphKit, rows: string, qx: { xq: string; sx: string }, axis: number): string;
}

/** The adopted step: E = exp(s − row max) quantised with the static scale 1/255 (see quantizeAttentionValues). */
export const EXP_WEIGHTS: ValueProductStep = {
  readsSoftmax: false,
  build(k, rows, qx, axis) {
    const e = k.mk('Exp', [k.mk('Sub', [rows, k.reduceMax(rows, axis, 1)])]);
    const u8zero = k.constT(DT.uint8, [], Uint8Array.of(0));
    const eq = k.mk('QuantizeLinear', [e, k.constF(1 / 255), u8zero]);
    return k.mk('MatMulIntegerToFloat', [eq, qx.xq, k.constF(1), qx.sx, u8zero], [], 'com.microsoft');
  },
};

/**
 * Attention's probability × value products P·X in int8, for P = Softmax(s) over the last axis
 * (the softmax reading nothing else than s) and X a 2-D [M, C] activation (`MatMul(P, X)`: memory
 * attention's 64-wide memory values, or its self-attention input; ropeAttention.ts
 * valuesThroughOutProj), or per head: `FusedMatMul(P [b, L, M], X [M, b, C], transBatchB)` (Hiera's
 * global blocks, hieraBlock.ts tiledAttention), where X gets one scale per head and column (the
 * [b, 1, C + 1] scales MatMulIntegerToFloat takes for a batched B) and moves to [b, M, C] in int8.
 * With the default step (EXP_WEIGHTS) the softmax is not run: E = exp(s − row max) has every row's
 * max exactly 1, so one static scale 1/255 quantises every row to uint8 at full resolution (one
 * per-tensor scale on the softmax's own output would zero the small probabilities of rows over 7200
 * keys, and ORT's per-row QuantizeLinear is a scalar loop). X is quantised per tensor (symmetric
 * int8, |X| max / 127, once per X) with a column of ones appended, so one `MatMulIntegerToFloat`
 * gives Σ_j Eq_j·X_j and Σ_j Eq_j, and the output is their ratio: the softmax-weighted mean with the
 * quantised weights renormalised. Measured faster than the fp32 softmax + product on Zen 4
 * (BENCHMARKS.md, "Fast mode, session 14"; on the Intel VM with AMX it was not, "Fast mode, fourth
 * pass"); `step` lets scripts/int8Variants.ts measure the rejected forms. `only` (when given) picks
 * the products by their MatMul node. Returns how many were rewritten.
 */
export function quantizeAttentionValues(
  model: ProtoModel,
  only?: (node: ProtoNode) => boolean,
  step: ValueProductStep = EXP_WEIGHTS,
): number {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name ?? ''));
  const { producer, consumers, graphOutputs } = graphLinks(g);
  const rank = tensorRanks(g);
  const opset = toNumber(model.opsetImport.find((x) => (x.domain ?? '') === '')?.version);
  if (opset < 15) return 0; // Shape start/end
  const axesAsInput = opset >= 18; // ReduceMax takes its axes as an input from opset 18, as an attribute before
  let uid = 0;
  const newInits: ProtoTensor[] = [];
  let seq: ProtoNode[] = [];
  const k: SubgraphKit = {
    constT(dt, dims, raw) {
      const name = `int8_pv_c${uid++}`;
      newInits.push(tensor(name, dt, dims, raw));
      return name;
    },
    constF: (v) =>
      typeof v === 'number'
        ? k.constT(DT.float, [], bytes(Float32Array.of(v)))
        : k.constT(DT.float, [v.length], bytes(Float32Array.from(v))),
    constI: (v) => k.constT(DT.int64, [v.length], bytes(BigInt64Array.from(v.map(BigInt)))),
    mk(opType, input, attribute = [], domain = '') {
      const n: ProtoNode = { opType, input, output: [`int8_pv_t${uid++}`], name: `int8_pv_n${uid++}`, domain, attribute };
      seq.push(n);
      return n.output[0]!;
    },
    int: (name, v) => ({ name, type: 2, i: v }),
    reduceMax: (t, axis, keepdims) =>
      axesAsInput
        ? k.mk('ReduceMax', [t, k.constI([axis])], [k.int('keepdims', keepdims)])
        : k.mk('ReduceMax', [t], [{ name: 'axes', type: 7, ints: [axis] }, k.int('keepdims', keepdims)]),
  };
  const { constT, constF, constI, mk, int } = k;
  const added = new Map<ProtoNode, ProtoNode[]>();
  const drop = new Set<ProtoNode>();
  const quantX = new Map<string, { xq: string; sx: string }>(); // [Xq | 1] and its column scales, once per X
  let count = 0;
  for (const node of g.node) {
    // MatMul(P, X [M, C]), or FusedMatMul(P [b, L, M], X [M, b, C], transBatchB) (Hiera's global blocks)
    const fused =
      node.opType === 'FusedMatMul' &&
      node.domain === 'com.microsoft' &&
      intAttr(node, 'transBatchB') === 1 &&
      !intAttr(node, 'transA') &&
      !intAttr(node, 'transB') &&
      !intAttr(node, 'transBatchA') &&
      (attrOf(node, 'alpha')?.f ?? 1) === 1;
    const plain = node.opType === 'MatMul' && (node.domain ?? '') === '';
    if (!(plain || fused) || node.input.length !== 2 || (only && !only(node))) continue;
    const [p, x] = node.input as [string, string];
    const sm = producer.get(p);
    if (sm?.opType !== 'Softmax' || (sm.domain ?? '') !== '' || inits.has(x) || graphOutputs.has(p)) continue;
    const s = sm.input[0]!;
    if (consumers.get(p)?.length !== 1 || consumers.get(s)?.length !== 1 || graphOutputs.has(s)) continue;
    const rp = rank(s);
    const rx = rank(x);
    const axis = sm.attribute.find((a) => a.name === 'axis');
    const lastAxis = axis ? toNumber(axis.i) === -1 || toNumber(axis.i) === (rp ?? 0) - 1 : opset >= 13;
    if (!rp || rp < 2 || rx !== (fused ? 3 : 2) || (fused && rp !== 3) || !lastAxis) continue;
    seq = [];
    let qx = quantX.get(x);
    if (!qx && fused) {
      // batched X [M, b, C]: one scale per head and column (the [b, 1, C + 1] scales a batched B
      // takes anyway), the int8 X moved to [b, M, C] with its column of ones
      const sx3 = mk('Max', [mk('Mul', [k.reduceMax(mk('Abs', [x]), 0, 1), constF(1 / 127)]), constF(1e-30)]);
      // X / scale, then one per-tensor QuantizeLinear (ORT's per-axis one is a scalar loop, 20× slower here)
      const xs = mk('Mul', [x, mk('Reciprocal', [sx3])]);
      const xqf = mk('QuantizeLinear', [xs, constF(1), constT(DT.int8, [], Uint8Array.of(0))]);
      const xq = mk('Transpose', [xqf], [{ name: 'perm', type: 7, ints: [1, 0, 2] }]);
      // [b, M, 1] for the column of ones, [b, 1, 1] for its scale: xq's leading dims + a constant tail
      const shape = (end: number, tail: number[]) => mk('Concat', [mk('Shape', [xq], [int('end', end)]), constI(tail)], [int('axis', 0)]);
      const ones = mk('Expand', [constT(DT.int8, [1, 1, 1], Uint8Array.of(1)), shape(2, [1])]);
      const sOnes = mk('Expand', [constT(DT.float, [1, 1, 1], bytes(Float32Array.of(1))), shape(1, [1, 1])]);
      qx = {
        xq: mk('Concat', [xq, ones], [int('axis', 2)]),
        sx: mk('Concat', [mk('Transpose', [sx3], [{ name: 'perm', type: 7, ints: [1, 0, 2] }]), sOnes], [int('axis', 2)]),
      };
      quantX.set(x, qx);
    }
    if (!qx) {
      // X [M, C] shared by every row: one per-tensor scale
      const amax = mk('ReduceMax', [mk('Abs', [x])], [int('keepdims', 0)]);
      const sx = mk('Max', [mk('Mul', [amax, constF(1 / 127)]), constF(1e-30)]);
      const xq = mk('QuantizeLinear', [x, sx, constT(DT.int8, [], Uint8Array.of(0))]);
      const c = mk('Shape', [x], [int('start', 1)]);
      const ones = mk('Expand', [
        constT(DT.int8, [1, 1], Uint8Array.of(1)),
        mk('Concat', [mk('Shape', [x], [int('end', 1)]), constI([1])], [int('axis', 0)]),
      ]);
      qx = { xq: mk('Concat', [xq, ones], [int('axis', 1)]), sx: mk('Concat', [mk('Expand', [sx, c]), constF([1])], [int('axis', 0)]) };
      quantX.set(x, qx);
    }
    const w = step.readsSoftmax ? p : s;
    // rows: 2-D [rows, M] for a shared X, the [b, L, M] weights themselves for a batched one
    const rowAxis = fused ? 2 : 1;
    const y1 = step.build(k, fused ? w : mk('Flatten', [w], [int('axis', rp - 1)]), qx, rowAxis);
    const c = mk('Shape', [x], [int('start', rx - 1)]);
    const num = mk('Slice', [y1, constI([0]), c, constI([rowAxis])]);
    const den = mk('Slice', [y1, c, constI([2 ** 31 - 1]), constI([rowAxis])]);
    if (fused) mk('Div', [num, den]);
    else {
      const outShape = mk('Concat', [mk('Shape', [s], [int('end', -1)]), c], [int('axis', 0)]);
      mk('Reshape', [mk('Div', [num, den]), outShape]);
    }
    seq[seq.length - 1]!.output = [node.output[0]!];
    added.set(node, seq);
    drop.add(node);
    if (!step.readsSoftmax) drop.add(sm);
    count++;
  }
  if (!count) return 0;
  spliceNodes(g, added, drop);
  g.initializer.push(...newInits);
  if (!model.opsetImport.some((o) => o.domain === 'com.microsoft')) model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return count;
}

/**
 * An int8 attention chain — scores `DynamicQuantizeMatMul(q [b, rows, d], Kqᵀ)` (quantizeAttentionScores), optionally
 * flattened to 2-D rows, then `ReduceMax`, `Sub`, `Exp`, `QuantizeLinear` and `MatMulIntegerToFloat` with [Xq | 1]
 * (quantizeAttentionValues' EXP_WEIGHTS step) — run as `blocks` chains of `rows / blocks` query rows each: q is sliced
 * by rows, every block runs the whole chain on its [rows / blocks, M] scores, and the blocks' [rows / blocks, C + 1]
 * products are concatenated before the division. Each row's arithmetic is the same except that each block's q gets its
 * own per-tensor uint8 scale (at least as fine as the whole q's). Why: in memory attention's cross-attention the float
 * scores, their exp and the uint8 weights are [1024, M] with M up to 7200 memory tokens (29 MB of floats), written and
 * read back by four element-wise passes; a 128-row block's 3.7 MB stays in the cache between them (BENCHMARKS.md,
 * "Fast mode, session 16"). Shape nodes that read the scores' leading dims read q's instead. `only` picks the chains
 * by their score product. Returns how many chains were rewritten.
 */
export function chunkAttentionRows(model: ProtoModel, blocks: number, rows: number, only?: (scores: ProtoNode) => boolean): number {
  if (!(blocks > 1) || rows % blocks !== 0) return 0;
  const g = model.graph!;
  const { producer, consumers, graphOutputs } = graphLinks(g);
  const rank = tensorRanks(g);
  // names new to this graph (the pass may run on a graph it already rewrote)
  const taken = new Set([...g.initializer.map((t) => t.name ?? ''), ...g.node.flatMap((n) => [...n.output, n.name ?? ''])]);
  let uid = 0;
  const fresh = (kind: string): string => {
    let name: string;
    do name = `int8_rows_${kind}${uid++}`;
    while (taken.has(name));
    taken.add(name);
    return name;
  };
  const newInits: ProtoTensor[] = [];
  const constI = (v: number[]): string => {
    const name = fresh('c');
    newInits.push(tensor(name, DT.int64, [v.length], bytes(BigInt64Array.from(v.map(BigInt)))));
    return name;
  };
  const added = new Map<ProtoNode, ProtoNode[]>();
  const drop = new Set<ProtoNode>();
  const isMs = (n: ProtoNode | undefined, op: string): n is ProtoNode => n?.opType === op && n.domain === 'com.microsoft';
  const isStd = (n: ProtoNode | undefined, op: string): n is ProtoNode => n?.opType === op && (n.domain ?? '') === '';
  let count = 0;
  for (const mm of g.node) {
    if (!isMs(mm, 'MatMulIntegerToFloat')) continue;
    const ql = producer.get(mm.input[0]!);
    const ex = isStd(ql, 'QuantizeLinear') ? producer.get(ql.input[0]!) : undefined;
    const sub = isStd(ex, 'Exp') ? producer.get(ex.input[0]!) : undefined;
    const rmax = isStd(sub, 'Sub') ? producer.get(sub.input[1]!) : undefined;
    if (!isStd(ql, 'QuantizeLinear') || !isStd(ex, 'Exp') || !isStd(sub, 'Sub') || !isStd(rmax, 'ReduceMax')) continue;
    const w = sub.input[0]!;
    if (rmax.input[0] !== w) continue;
    const p = producer.get(w);
    const flat = isStd(p, 'Flatten') ? p : undefined;
    const dq = flat ? producer.get(flat.input[0]!) : p;
    if (!isMs(dq, 'DynamicQuantizeMatMul') || (only && !only(dq))) continue;
    const a = dq.input[0]!;
    const ra = rank(a);
    if (!ra || ra < 2) continue;
    // every intermediate has one reader (the scores: the chain, plus Shape nodes that take their leading dims)
    const scores = dq.output[0]!;
    const readers = consumers.get(scores) ?? [];
    const leadingShape = (r: ProtoNode) => isStd(r, 'Shape') && r.attribute.some((x) => x.name === 'end' && toNumber(x.i) === -1);
    const chainReaders = readers.filter((r) => !leadingShape(r));
    const wReaders = consumers.get(w) ?? [];
    if (
      [scores, w, ex.output[0]!, sub.output[0]!, ql.output[0]!, rmax.output[0]!].some((t) => graphOutputs.has(t)) ||
      chainReaders.length !== (flat ? 1 : 2) ||
      (flat && (chainReaders[0] !== flat || consumers.get(flat.output[0]!)?.length !== 2)) ||
      wReaders.length !== 2 ||
      !wReaders.includes(rmax) ||
      !wReaders.includes(sub) ||
      consumers.get(sub.output[0]!)?.length !== 1 ||
      consumers.get(ex.output[0]!)?.length !== 1 ||
      consumers.get(ql.output[0]!)?.length !== 1
    )
      continue;
    const seq: ProtoNode[] = [];
    const mk = (opType: string, input: string[], attribute: ProtoNode['attribute'] = [], domain = ''): string => {
      const n: ProtoNode = { opType, input, output: [fresh('t')], name: fresh('n'), domain, attribute };
      seq.push(n);
      return n.output[0]!;
    };
    const step = rows / blocks;
    const rowAxis = ra - 2;
    const outs: string[] = [];
    for (let b = 0; b < blocks; b++) {
      const qb = mk('Slice', [a, constI([b * step]), constI([(b + 1) * step]), constI([rowAxis])]);
      const sb = mk('DynamicQuantizeMatMul', [qb, ...dq.input.slice(1)], dq.attribute, dq.domain ?? '');
      const wb = flat ? mk('Flatten', [sb], flat.attribute) : sb;
      const mb = mk('ReduceMax', [wb, ...rmax.input.slice(1)], rmax.attribute);
      const eb = mk('Exp', [mk('Sub', [wb, mb])]);
      const qlb = mk('QuantizeLinear', [eb, ...ql.input.slice(1)], ql.attribute);
      outs.push(mk('MatMulIntegerToFloat', [qlb, ...mm.input.slice(1)], mm.attribute, mm.domain ?? ''));
    }
    // flattened 2-D rows join on axis 0, batched [b, rows, C + 1] products on their row axis
    mk('Concat', outs, [{ name: 'axis', type: 2, i: flat ? 0 : rowAxis }]);
    seq[seq.length - 1]!.output = [mm.output[0]!];
    for (const r of readers) if (leadingShape(r)) r.input = [a, ...r.input.slice(1)];
    added.set(mm, seq);
    for (const n of [dq, flat, rmax, sub, ex, ql, mm]) if (n) drop.add(n);
    count++;
  }
  if (!count) return 0;
  spliceNodes(g, added, drop);
  g.initializer.push(...newInits);
  return count;
}
