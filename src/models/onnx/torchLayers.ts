import type { GraphBuilder, T } from './graphBuilder.js';
import type { WeightStore } from './weightStore.js';

/**
 * Graph fragments for the torch.nn modules SAM2 is made of, reading weights by state-dict prefix.
 * Each mirrors the torch module's math exactly (same op order where it matters for parity).
 */

/** Transpose a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** nn.Linear: y = x·Wᵀ + b over the last axis. */
export function linear(g: GraphBuilder, ws: WeightStore, prefix: string, x: T, opts: { bias?: boolean } = {}): T {
  const w = ws.get(`${prefix}.weight`);
  const [out, inp] = w.shape as [number, number];
  let y = g.matmul(x, g.initializer(transpose2d(w.data, out, inp), [inp, out], `${prefix}.weight`));
  if (opts.bias !== false && ws.has(`${prefix}.bias`)) y = g.add(y, g.initializer(ws.get(`${prefix}.bias`).data, [out], `${prefix}.bias`));
  return y;
}

/** nn.LayerNorm over the last axis. */
export function layerNorm(g: GraphBuilder, ws: WeightStore, prefix: string, x: T, eps = 1e-5): T {
  const w = ws.get(`${prefix}.weight`);
  const b = ws.get(`${prefix}.bias`);
  return g.layerNorm(x, g.initializer(w.data, w.shape, `${prefix}.weight`), g.initializer(b.data, b.shape, `${prefix}.bias`), eps, -1);
}

/**
 * Residual add followed by nn.LayerNorm: sum = x + skip (+ bias, a per-channel initializer, when
 * given), normed = LayerNorm(sum), as one com.microsoft SkipLayerNormalization kernel (same add,
 * same normalisation as Add + LayerNormalization; ORT does not fuse them itself when the sum feeds
 * the next residual).
 */
export function residualLayerNorm(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  x: T,
  skip: T,
  eps = 1e-5,
  bias?: T,
): { sum: T; normed: T } {
  const w = ws.get(`${prefix}.weight`);
  const b = ws.get(`${prefix}.bias`, w.shape);
  const inputs = [x, skip, g.initializer(w.data, w.shape, `${prefix}.weight`), g.initializer(b.data, w.shape, `${prefix}.bias`)];
  if (bias) inputs.push(bias);
  const [normed, , , sum] = g.op('SkipLayerNormalization', inputs, { epsilon: { float: eps } }, 4, 'com.microsoft');
  return { sum: sum!, normed: normed! };
}

/**
 * gelu(nn.Linear(x)) with the exact erf GELU: the MatMul, then the bias add and GELU as one
 * com.microsoft BiasGelu kernel (one pass over the wide hidden tensor instead of a Gemm bias write
 * plus a separate Gelu pass).
 */
export function linearBiasGelu(g: GraphBuilder, ws: WeightStore, prefix: string, x: T): T {
  const y = linear(g, ws, prefix, x, { bias: false });
  const out = ws.get(`${prefix}.weight`).shape[0]!;
  const b = g.initializer(ws.get(`${prefix}.bias`, [out]).data, [out], `${prefix}.bias`);
  return g.op('BiasGelu', [y, b], {}, 1, 'com.microsoft')[0]!;
}

/** SAM's LayerNorm2d: normalise over channels of an NCHW tensor (computed as mean/var like upstream). */
export function layerNorm2d(g: GraphBuilder, ws: WeightStore, prefix: string, x: T, eps = 1e-6): T {
  const w = ws.get(`${prefix}.weight`);
  const b = ws.get(`${prefix}.bias`);
  const c = w.shape[0]!;
  // From opset 18 ReduceMean takes its axes as an input instead of an attribute.
  const mean = (t: T): T => (g.opset >= 18 ? g.op1('ReduceMean', [t, g.constI([1])], { keepdims: 1 }) : g.reduceMean(t, [1]));
  const u = mean(x);
  const d = g.sub(x, u);
  const s = mean(g.mul(d, d));
  const n = g.div(d, g.sqrt(g.addScalar(s, eps)));
  return g.add(g.mul(n, g.initializer(w.data, [c, 1, 1], `${prefix}.weight`)), g.initializer(b.data, [c, 1, 1], `${prefix}.bias`));
}

/** nn.Conv2d / nn.ConvTranspose2d with square kernels. */
export function conv2d(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  x: T,
  o: { stride?: number; padding?: number; groups?: number; transpose?: boolean } = {},
): T {
  const w = ws.get(`${prefix}.weight`);
  const wt = g.initializer(w.data, w.shape, `${prefix}.weight`);
  const bt = ws.has(`${prefix}.bias`)
    ? g.initializer(ws.get(`${prefix}.bias`).data, [ws.get(`${prefix}.bias`).shape[0]!], `${prefix}.bias`)
    : undefined;
  const k = [w.shape[2]!, w.shape[3]!];
  const s = o.stride ?? 1;
  const p = o.padding ?? 0;
  if (o.transpose) return g.convTranspose(x, wt, bt, { strides: [s, s], pads: [p, p, p, p], kernel: k });
  return g.conv(x, wt, bt, { strides: [s, s], pads: [p, p, p, p], group: o.groups ?? 1, kernel: k });
}

export type Activation = 'relu' | 'gelu';

export function activation(g: GraphBuilder, x: T, act: Activation): T {
  return act === 'relu' ? g.relu(x) : g.gelu(x);
}

/** SAM's MLP: Linear layers with an activation between them, optional sigmoid on the output. */
export function mlp(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  x: T,
  numLayers: number,
  o: { act?: Activation; sigmoidOutput?: boolean } = {},
): T {
  let y = x;
  for (let i = 0; i < numLayers; i++) {
    y = linear(g, ws, `${prefix}.layers.${i}`, y);
    if (i < numLayers - 1) y = activation(g, y, o.act ?? 'relu');
  }
  return o.sigmoidOutput ? g.sigmoid(y) : y;
}
