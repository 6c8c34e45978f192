import { encodeModel, type AttrValue, type OnnxElemType, type OnnxGraph, type OnnxTensor } from './onnxModel.js';

/** A tensor in the graph under construction is just its unique value name. */
export type T = string;

type AttrInput = number | string | readonly number[] | { floats: readonly number[] } | { tensor: OnnxTensor } | { float: number };
type Dims = readonly number[];

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function toAttr(v: AttrInput): AttrValue {
  if (typeof v === 'number') return Number.isInteger(v) ? { kind: 'int', v } : { kind: 'float', v };
  if (typeof v === 'string') return { kind: 'string', v };
  if (Array.isArray(v)) return { kind: 'ints', v };
  if ('floats' in v) return { kind: 'floats', v: v.floats };
  if ('float' in v) return { kind: 'float', v: v.float };
  if ('tensor' in v) return { kind: 'tensor', v: v.tensor };
  throw new Error('unsupported attribute value');
}

/**
 * Builds an ONNX graph op by op. Values are named `<scope>/<hint>_<n>`, so graphs are readable
 * in Netron and deterministic (same weights + config → same bytes → stable cache keys).
 * Opset 17: LayerNormalization exists; Gelu does not (composed from Erf, which ORT fuses back).
 */
export class GraphBuilder {
  readonly opset: number;
  private graph: OnnxGraph;
  private counter = 0;
  private scopes: string[] = [];
  private constCache = new Map<string, T>();
  /** Non-default operator-set domains used by emitted nodes (e.g. com.microsoft contrib ops). */
  private domains: Record<string, number> = {};

  constructor(name: string, opts: { opset?: number } = {}) {
    this.opset = opts.opset ?? 17;
    this.graph = { name, nodes: [], initializers: [], inputs: [], outputs: [] };
  }

  /** Run `fn` with names prefixed by `scope` (mirrors the torch module path). */
  scope<R>(scope: string, fn: () => R): R {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  fresh(hint: string): T {
    const prefix = this.scopes.length ? this.scopes.join('/') + '/' : '';
    return `${prefix}${hint}_${this.counter++}`;
  }

  input(name: string, type: OnnxElemType, shape: readonly (number | string)[]): T {
    this.graph.inputs.push({ name, type, shape });
    return name;
  }

  /** Expose `t` as a graph output called `name` (adds an Identity when the names differ). */
  output(t: T, name: string, type: OnnxElemType = 'float', shape: readonly (number | string)[] = []): void {
    if (t !== name) this.graph.nodes.push({ opType: 'Identity', inputs: [t], outputs: [name], name: `out/${name}`, attrs: {} });
    this.graph.outputs.push({ name, type, shape: shape.length ? shape : [] });
  }

  initializer(data: Float32Array | Int32Array | BigInt64Array | Uint8Array, dims: Dims, hint = 'w'): T {
    const type: OnnxElemType =
      data instanceof Float32Array ? 'float' : data instanceof Int32Array ? 'int32' : data instanceof BigInt64Array ? 'int64' : 'uint8';
    const name = this.fresh(hint);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (expected !== data.length) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims}]`);
    this.graph.initializers.push({ name, type, dims: [...dims], raw: bytesOf(data) });
    return name;
  }

  /** A float32 constant (deduplicated for small values). */
  constF(values: number | readonly number[] | Float32Array, dims?: Dims): T {
    const arr = values instanceof Float32Array ? values : Float32Array.from(typeof values === 'number' ? [values] : values);
    const d = dims ?? (typeof values === 'number' ? [] : [arr.length]);
    if (arr.length > 16) return this.initializer(arr, d, 'cf');
    const key = `f:${d}:${Array.from(arr)}`;
    let name = this.constCache.get(key);
    if (!name) this.constCache.set(key, (name = this.initializer(arr, d, 'cf')));
    return name;
  }

  /** An int64 constant (shapes, axes, indices). */
  constI(values: number | readonly number[], dims?: Dims): T {
    const list = typeof values === 'number' ? [values] : values;
    const d = dims ?? (typeof values === 'number' ? [] : [list.length]);
    const key = `i:${d}:${list}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.initializer(BigInt64Array.from(list.map((v) => BigInt(v))), d, 'ci');
      this.constCache.set(key, name);
    }
    return name;
  }

  /** Emit a node; returns its output names. Empty-string inputs mean "optional input omitted". */
  op(opType: string, inputs: readonly T[], attrs: Record<string, AttrInput | undefined> = {}, nOut = 1, domain?: string): T[] {
    const outputs = Array.from({ length: nOut }, () => this.fresh(opType.toLowerCase()));
    const a: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[k] = toAttr(v);
    this.graph.nodes.push({ opType, inputs: [...inputs], outputs, name: outputs[0]!, attrs: a, domain });
    if (domain && !(domain in this.domains)) this.domains[domain] = 1;
    return outputs;
  }

  op1(opType: string, inputs: readonly T[], attrs: Record<string, AttrInput | undefined> = {}): T {
    return this.op(opType, inputs, attrs, 1)[0]!;
  }

  // ---- elementwise ----
  add(a: T, b: T): T {
    return this.op1('Add', [a, b]);
  }
  sub(a: T, b: T): T {
    return this.op1('Sub', [a, b]);
  }
  mul(a: T, b: T): T {
    return this.op1('Mul', [a, b]);
  }
  div(a: T, b: T): T {
    return this.op1('Div', [a, b]);
  }
  neg(a: T): T {
    return this.op1('Neg', [a]);
  }
  sqrt(a: T): T {
    return this.op1('Sqrt', [a]);
  }
  exp(a: T): T {
    return this.op1('Exp', [a]);
  }
  sin(a: T): T {
    return this.op1('Sin', [a]);
  }
  cos(a: T): T {
    return this.op1('Cos', [a]);
  }
  erf(a: T): T {
    return this.op1('Erf', [a]);
  }
  sigmoid(a: T): T {
    return this.op1('Sigmoid', [a]);
  }
  relu(a: T): T {
    return this.op1('Relu', [a]);
  }
  tanh(a: T): T {
    return this.op1('Tanh', [a]);
  }
  matmul(a: T, b: T): T {
    return this.op1('MatMul', [a, b]);
  }
  addScalar(a: T, s: number): T {
    return this.add(a, this.constF(s));
  }
  mulScalar(a: T, s: number): T {
    return this.mul(a, this.constF(s));
  }

  /**
   * Exact (erf) GELU as torch.nn.GELU(): 0.5·x·(1+erf(x/√2)). From opset 20 the Gelu op exists and
   * ORT runs it as one kernel (it does not fuse the Erf form on CPU), so graphs built at opset ≥ 20 use it.
   */
  gelu(x: T): T {
    if (this.opset >= 20) return this.op1('Gelu', [x]);
    const e = this.erf(this.mulScalar(x, Math.SQRT1_2));
    return this.mul(this.mulScalar(x, 0.5), this.addScalar(e, 1));
  }

  // ---- shape ----
  reshape(x: T, shape: readonly number[]): T {
    return this.op1('Reshape', [x, this.constI(shape)]);
  }
  reshapeT(x: T, shape: T): T {
    return this.op1('Reshape', [x, shape]);
  }
  transpose(x: T, perm: readonly number[]): T {
    return this.op1('Transpose', [x], { perm });
  }
  concat(xs: readonly T[], axis: number): T {
    return xs.length === 1 ? xs[0]! : this.op1('Concat', xs, { axis });
  }
  unsqueeze(x: T, axes: readonly number[]): T {
    return this.op1('Unsqueeze', [x, this.constI(axes)]);
  }
  squeeze(x: T, axes: readonly number[]): T {
    return this.op1('Squeeze', [x, this.constI(axes)]);
  }
  shape(x: T): T {
    return this.op1('Shape', [x]);
  }
  cast(x: T, to: OnnxElemType): T {
    const codes = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, double: 11 } as const;
    return this.op1('Cast', [x], { to: codes[to] });
  }
  slice(x: T, starts: readonly number[], ends: readonly number[], axes: readonly number[], steps?: readonly number[]): T {
    const ins = [x, this.constI(starts), this.constI(ends), this.constI(axes)];
    if (steps) ins.push(this.constI(steps));
    return this.op1('Slice', ins);
  }
  split(x: T, sizes: readonly number[], axis: number): T[] {
    return this.op('Split', [x, this.constI(sizes)], { axis }, sizes.length);
  }
  gather(x: T, indices: T, axis = 0): T {
    return this.op1('Gather', [x, indices], { axis });
  }
  where(c: T, a: T, b: T): T {
    return this.op1('Where', [c, a, b]);
  }
  expand(x: T, shape: T): T {
    return this.op1('Expand', [x, shape]);
  }
  tile(x: T, repeats: T): T {
    return this.op1('Tile', [x, repeats]);
  }

  // ---- reductions / normalisation ----
  softmax(x: T, axis = -1): T {
    return this.op1('Softmax', [x], { axis });
  }
  reduceMean(x: T, axes: readonly number[], keepdims = true): T {
    return this.op1('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }
  layerNorm(x: T, scale: T, bias: T, eps: number, axis = -1): T {
    return this.op1('LayerNormalization', [x, scale, bias], { axis, epsilon: { float: eps } });
  }

  // ---- conv / pooling / resize ----
  conv(
    x: T,
    w: T,
    b: T | undefined,
    o: { strides?: number[]; pads?: number[]; dilations?: number[]; group?: number; kernel?: number[] } = {},
  ): T {
    return this.op1('Conv', b ? [x, w, b] : [x, w], {
      strides: o.strides,
      pads: o.pads,
      dilations: o.dilations,
      group: o.group,
      kernel_shape: o.kernel,
    });
  }
  convTranspose(x: T, w: T, b: T | undefined, o: { strides: number[]; pads?: number[]; kernel?: number[] }): T {
    return this.op1('ConvTranspose', b ? [x, w, b] : [x, w], { strides: o.strides, pads: o.pads, kernel_shape: o.kernel });
  }
  maxPool(x: T, kernel: number[], strides: number[], pads?: number[]): T {
    return this.op1('MaxPool', [x], { kernel_shape: kernel, strides, pads });
  }
  /** ONNX Resize with fixed output size (N,C,H,W). */
  resize(
    x: T,
    sizes: readonly number[],
    o: { mode: 'nearest' | 'linear' | 'cubic'; coord?: string; nearestMode?: string; cubicA?: number; antialias?: boolean },
  ): T {
    return this.op1('Resize', [x, '', '', this.constI(sizes)], {
      mode: o.mode,
      coordinate_transformation_mode: o.coord ?? (o.mode === 'nearest' ? 'asymmetric' : 'half_pixel'),
      nearest_mode: o.mode === 'nearest' ? (o.nearestMode ?? 'floor') : undefined,
      cubic_coeff_a: o.mode === 'cubic' ? { float: o.cubicA ?? -0.75 } : undefined,
    });
  }

  get nodeCount(): number {
    return this.graph.nodes.length;
  }

  toBytes(meta: { producerVersion?: string; docString?: string; metadata?: Record<string, string> } = {}): Uint8Array {
    return encodeModel(this.graph, {
      opset: this.opset,
      producer: 'medsam2.js',
      producerVersion: meta.producerVersion ?? '0',
      docString: meta.docString,
      metadata: meta.metadata,
      domains: this.domains,
    });
  }
}
