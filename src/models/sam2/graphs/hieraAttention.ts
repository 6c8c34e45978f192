import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';
import { linear, transpose2d } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import { maxPoolNhwc } from './hieraPool.js';

/**
 * How attention is emitted:
 * - 'matmul': softmax(q·kᵀ/√d)·v with plain ONNX ops (the exact math form the fixtures used);
 * - 'mha': the com.microsoft MultiHeadAttention contrib op (same math, one fused CPU kernel in ORT).
 */
export type AttentionImpl = 'matmul' | 'mha';

export interface WindowAttentionOpts {
  numWindows: number;
  /** Window (or whole-map for global attention) height and width in tokens. */
  winH: number;
  winW: number;
  dim: number;
  dimOut: number;
  numHeads: number;
  /** Max-pool stride applied to q inside each window (Hiera stage transitions). */
  qStride?: [number, number];
  impl: AttentionImpl;
}

/**
 * Hiera MultiScaleAttention on windows: x (nW, winH·winW, dim) → (nW, L', dimOut) where L' is the
 * pooled token count. qkv's output channels are laid out [3, heads, head_dim], so q/k/v are
 * contiguous thirds and each head a contiguous slice of them.
 */
export function windowAttention(g: GraphBuilder, ws: WeightStore, prefix: string, x: T, o: WindowAttentionOpts): T {
  const { numWindows: nW, winH, winW, dimOut, numHeads } = o;
  const hd = dimOut / numHeads;
  let [q, k, v] = qkvProjections(g, ws, `${prefix}.qkv`, x, o.dim, dimOut);
  let lq = winH * winW;
  if (o.qStride) {
    const [sy, sx] = o.qStride;
    const pooled = maxPoolNhwc(g, g.reshape(q, [nW, winH, winW, dimOut]), [nW, winH, winW, dimOut], [sy, sx]);
    lq = Math.floor(winH / sy) * Math.floor(winW / sx);
    q = g.reshape(pooled, [nW, lq, dimOut]);
  }
  let out: T;
  if (o.impl === 'mha') {
    out = g.op('MultiHeadAttention', [q, k, v], { num_heads: numHeads, scale: { float: 1 / Math.sqrt(hd) } }, 1, 'com.microsoft')[0]!;
  } else {
    const lk = winH * winW;
    const qh = g.transpose(g.reshape(q, [nW, lq, numHeads, hd]), [0, 2, 1, 3]);
    const kt = g.transpose(g.reshape(k, [nW, lk, numHeads, hd]), [0, 2, 3, 1]);
    const vh = g.transpose(g.reshape(v, [nW, lk, numHeads, hd]), [0, 2, 1, 3]);
    const scores = g.div(g.matmul(qh, kt), g.constF(Math.sqrt(hd)));
    const att = g.matmul(g.softmax(scores, -1), vh);
    out = g.reshape(g.transpose(att, [0, 2, 1, 3]), [nW, lq, dimOut]);
  }
  return linear(g, ws, `${prefix}.proj`, out);
}

/**
 * nn.Linear(dim, 3·dimOut) emitted as three MatMul+Add, one per third of the weight rows: the same
 * dot products as one qkv matmul followed by a split, without the split's copy.
 */
function qkvProjections(g: GraphBuilder, ws: WeightStore, prefix: string, x: T, dim: number, dimOut: number): [T, T, T] {
  const w = ws.get(`${prefix}.weight`, [3 * dimOut, dim]);
  const b = ws.get(`${prefix}.bias`, [3 * dimOut]);
  const part = (i: number): T => {
    const wi = transpose2d(w.data.subarray(i * dimOut * dim, (i + 1) * dimOut * dim), dimOut, dim);
    const y = g.matmul(x, g.initializer(wi, [dim, dimOut], `${prefix}.weight.${'qkv'[i]}`));
    return g.add(y, g.initializer(b.data.slice(i * dimOut, (i + 1) * dimOut), [dimOut], `${prefix}.bias.${'qkv'[i]}`));
  };
  return [part(0), part(1), part(2)];
}
