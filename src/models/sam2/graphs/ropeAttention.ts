import { MedsamError } from '../../../common/errors.js';
import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';
import { linear, transpose2d } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import type { RopeAttentionConfig } from './memoryConfig.js';

const f32 = Math.fround;

/**
 * Real-valued form of upstream compute_axial_cis (sam/transformer.py): the complex rotation
 * q·e^{iθ} on interleaved pairs (x0,x1) becomes (x0·cos − x1·sin, x0·sin + x1·cos), written as
 * x·cosT + swap(x)·sinT with cosT = [c,c,…] and sinT = [−s,+s,…] per pair. The first dim/4 pairs
 * rotate by the token's column (t % end_x), the last dim/4 by its row (t // end_x). Each step is
 * rounded to float32 as torch computes it.
 */
export function axialRopeTables(dim: number, endX: number, endY: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  if (dim % 4 !== 0) throw new MedsamError(`RoPE head dim ${dim} is not a multiple of 4`, 'use a memory-attention embedding_dim/num_heads divisible by 4');
  const q = dim / 4;
  const freqs = new Float32Array(q);
  for (let k = 0; k < q; k++) freqs[k] = f32(1 / f32(Math.pow(theta, f32((4 * k) / dim))));
  const n = endX * endY;
  const cos = new Float32Array(n * dim);
  const sin = new Float32Array(n * dim);
  for (let t = 0; t < n; t++) {
    const tx = t % endX;
    const ty = Math.floor(t / endX);
    for (let j = 0; j < 2 * q; j++) {
      const angle = j < q ? f32(tx * freqs[j]!) : f32(ty * freqs[j - q]!);
      const c = f32(Math.cos(angle));
      const s = f32(Math.sin(angle));
      const o = t * dim + 2 * j;
      cos[o] = c;
      cos[o + 1] = c;
      sin[o] = -s;
      sin[o + 1] = s;
    }
  }
  return { cos, sin };
}

/**
 * The RoPE grid upstream uses for `numTokens` query tokens: feat_sizes when it has that many
 * cells, else a √N × √N square (RoPEAttention.forward recomputes freqs_cis that way).
 */
export function ropeGrid(cfg: RopeAttentionConfig, numTokens: number): [number, number] {
  const [fx, fy] = cfg.featSizes;
  if (fx * fy === numTokens) return [fx, fy];
  const side = Math.round(Math.sqrt(numTokens));
  if (side * side !== numTokens) {
    throw new MedsamError(`memory attention has ${numTokens} query tokens, not a square grid`, 'use a square image_size that is a multiple of the backbone stride');
  }
  return [side, side];
}

export interface RopeTables {
  /** [numTokens, headDim] rotation tables of the query grid. */
  cos: T;
  sin: T;
  /** Number of query tokens the tables cover. */
  numTokens: number;
  headDim: number;
}

export function ropeTableConstants(g: GraphBuilder, cfg: RopeAttentionConfig, numTokens: number): RopeTables {
  const headDim = cfg.embeddingDim / cfg.downsampleRate / cfg.numHeads;
  const [ex, ey] = ropeGrid(cfg, numTokens);
  const { cos, sin } = axialRopeTables(headDim, ex, ey, cfg.ropeTheta);
  return {
    cos: g.initializer(cos, [numTokens, headDim], 'rope_cos'),
    sin: g.initializer(sin, [numTokens, headDim], 'rope_sin'),
    numTokens,
    headDim,
  };
}

/**
 * Key tables for M = r·N + P key tokens: the query grid's tables repeated r times (rope_k_repeat:
 * one copy per memory frame), then P identity rows (cos 1, sin 0) for the object-pointer tokens
 * that upstream leaves unrotated — x·1 + swap(x)·0 = x exactly. Built once per graph from the
 * dynamic key count and shared by every layer, instead of slicing and re-concatenating the keys
 * in each layer.
 */
export function ropeKeyTables(g: GraphBuilder, r: RopeTables, numKeys: T, numKExcludeRope: T): RopeTables & { numTokens: -1 } {
  const dh = r.headDim;
  const nRope = g.sub(numKeys, numKExcludeRope); // int64 [1]
  const reps = g.div(nRope, g.constI([r.numTokens]));
  const repShape = g.concat([reps, g.constI([r.numTokens, dh])], 0);
  const ptrShape = g.concat([numKExcludeRope, g.constI([dh])], 0);
  const full = (t: T, ptrValue: number): T => g.concat([
    g.reshape(g.expand(g.unsqueeze(t, [0]), repShape), [-1, dh]),
    g.expand(g.constF([ptrValue]), ptrShape),
  ], 0);
  return { cos: full(r.cos, 1), sin: full(r.sin, 0), numTokens: -1, headDim: dh };
}

/** x·cosT + xSwap·sinT, xSwap = x with each interleaved pair swapped; the last two axes are [tokens, headDim]. */
function rotate(g: GraphBuilder, x: T, xSwap: T, r: RopeTables): T {
  return g.add(g.mul(x, r.cos), g.mul(xSwap, r.sin));
}

/**
 * A Linear layer and the same layer with its output pairs swapped (rows 2i ↔ 2i+1 of W and b):
 * swap(W·x + b) = (P·W)·x + P·b. The second MatMul replaces a last-axis Gather, which ORT runs
 * element by element and which cost more than the small extra MatMul.
 */
function linearWithPairSwap(g: GraphBuilder, ws: WeightStore, prefix: string, x: T): { y: T; ySwap: T } {
  const w = ws.get(`${prefix}.weight`);
  const [out, inp] = w.shape as [number, number];
  const swapped = new Float32Array(out * inp);
  for (let o = 0; o < out; o++) swapped.set(w.data.subarray((o ^ 1) * inp, ((o ^ 1) + 1) * inp), o * inp);
  let ySwap = g.matmul(x, g.initializer(transpose2d(swapped, out, inp), [inp, out], `${prefix}.weight_pair_swapped`));
  if (ws.has(`${prefix}.bias`)) {
    const b = ws.get(`${prefix}.bias`, [out]).data;
    ySwap = g.add(ySwap, g.initializer(Float32Array.from({ length: out }, (_, o) => b[o ^ 1]!), [out], `${prefix}.bias_pair_swapped`));
  }
  return { y: linear(g, ws, prefix, x), ySwap };
}

/**
 * Upstream RoPEAttention.forward for batch 1, tokens as 2-D [N,C] (so every Linear is a MatMul+Add
 * that ORT fuses into one Gemm). Queries are rotated with the grid tables `qRope`; keys with
 * `kRope` (the same tables for self-attention; for cross-attention ropeKeyTables: the grid once
 * per memory frame, identity for the object-pointer tokens). Attention is softmax(q·kᵀ/√d)·v, as
 * the fixtures' math-SDPA form.
 *
 * Speed: when the values come from narrower inputs than a head (cross-attention to 64-d memories
 * with 256-d heads), softmax(s)·(x·Wvᵀ + bv) is computed as (softmax(s)·x)·Wvᵀ + bv — the same
 * maths (softmax rows sum to 1) with the M-long reduction done at the input width, 4× fewer FLOPs
 * in the largest MatMul of memory attention. With one head the head split/merge is a reshape.
 */
export function ropeAttention(
  g: GraphBuilder, ws: WeightStore, prefix: string, cfg: RopeAttentionConfig,
  qIn: T, kIn: T, vIn: T, qRope: RopeTables, kRope: RopeTables,
): T {
  return g.scope(prefix, () => {
    const internal = cfg.embeddingDim / cfg.downsampleRate;
    const heads = cfg.numHeads;
    const dh = internal / heads;
    ws.get(`${prefix}.q_proj.weight`, [internal, cfg.embeddingDim]);
    ws.get(`${prefix}.k_proj.weight`, [internal, cfg.kvInDim]);
    ws.get(`${prefix}.v_proj.weight`, [internal, cfg.kvInDim]);
    // [N,H·dh] → [H,N,dh]; a plain reshape (no copy) for one head
    const split = (x: T): T => (heads === 1 ? g.unsqueeze(x, [0]) : g.transpose(g.reshape(x, [0, heads, dh]), [1, 0, 2]));
    const qp = linearWithPairSwap(g, ws, `${prefix}.q_proj`, qIn);
    const q = rotate(g, split(qp.y), split(qp.ySwap), qRope);
    const kp = linearWithPairSwap(g, ws, `${prefix}.k_proj`, kIn);
    const k = rotate(g, split(kp.y), split(kp.ySwap), kRope);

    const scores = g.div(g.matmul(q, g.transpose(k, [0, 2, 1])), g.constF(Math.sqrt(dh)));
    const probs = g.softmax(scores, -1);
    const out = cfg.kvInDim < dh
      ? valuesAtInputWidth(g, ws, `${prefix}.v_proj`, probs, vIn, heads, dh, cfg.kvInDim)
      : g.matmul(probs, split(linear(g, ws, `${prefix}.v_proj`, vIn)));
    const merged = heads === 1 ? g.squeeze(out, [0]) : g.reshape(g.transpose(out, [1, 0, 2]), [0, internal]);
    return linear(g, ws, `${prefix}.out_proj`, merged);
  });
}

/** (probs·x)·Wv_hᵀ + bv_h per head: probs [H,N,M], x [M,kvIn] → [H,N,dh]. */
function valuesAtInputWidth(g: GraphBuilder, ws: WeightStore, prefix: string, probs: T, x: T, heads: number, dh: number, kvIn: number): T {
  const w = ws.get(`${prefix}.weight`, [heads * dh, kvIn]).data; // torch Linear [out, in]
  const wh = new Float32Array(heads * kvIn * dh); // [H, kvIn, dh]
  for (let h = 0; h < heads; h++) {
    for (let o = 0; o < dh; o++) for (let i = 0; i < kvIn; i++) wh[(h * kvIn + i) * dh + o] = w[(h * dh + o) * kvIn + i]!;
  }
  const px = g.matmul(probs, x); // [H,N,kvIn]
  let y = g.matmul(px, g.initializer(wh, [heads, kvIn, dh], `${prefix}.weight_heads`));
  if (ws.has(`${prefix}.bias`)) y = g.add(y, g.initializer(ws.get(`${prefix}.bias`, [heads * dh]).data, [heads, 1, dh], `${prefix}.bias`));
  return y;
}
