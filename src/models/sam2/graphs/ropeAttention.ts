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

/** x·cosT + xSwap·sinT, xSwap = x with each interleaved pair swapped; the last two axes are [numTokens, headDim]. */
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
 * Upstream RoPEAttention.forward, batch-first tokens [B,N,·]. Queries are rotated with the grid
 * tables; keys too, where with rope_k_repeat the key tokens are whole copies of the grid (one per
 * memory frame) and the last `numKExcludeRope` keys (object-pointer tokens, int64 [1]) are left
 * unrotated. Attention is softmax(q·kᵀ/√d)·v, as the fixtures' math-SDPA form.
 *
 * Speed: when the values come from narrower inputs than a head (cross-attention to 64-d memories
 * with 256-d heads), softmax(s)·(x·Wvᵀ + bv) is computed as (softmax(s)·x)·Wvᵀ + bv — the same
 * maths (softmax rows sum to 1) with the M-long reduction done at the input width, 4× fewer FLOPs
 * in the largest MatMul of memory attention. With one head the head split/merge is a reshape.
 */
export function ropeAttention(
  g: GraphBuilder, ws: WeightStore, prefix: string, cfg: RopeAttentionConfig,
  qIn: T, kIn: T, vIn: T, rope: RopeTables, numKExcludeRope?: T,
): T {
  return g.scope(prefix, () => {
    const internal = cfg.embeddingDim / cfg.downsampleRate;
    const heads = cfg.numHeads;
    const dh = internal / heads;
    ws.get(`${prefix}.q_proj.weight`, [internal, cfg.embeddingDim]);
    ws.get(`${prefix}.k_proj.weight`, [internal, cfg.kvInDim]);
    ws.get(`${prefix}.v_proj.weight`, [internal, cfg.kvInDim]);
    // [B,N,H·dh] → [B,H,N,dh]; a plain reshape (no copy) for one head
    const split = (x: T): T => (heads === 1 ? g.unsqueeze(x, [1]) : g.transpose(g.reshape(x, [0, 0, heads, dh]), [0, 2, 1, 3]));
    const qp = linearWithPairSwap(g, ws, `${prefix}.q_proj`, qIn);
    const q = rotate(g, split(qp.y), split(qp.ySwap), rope);
    const kp = linearWithPairSwap(g, ws, `${prefix}.k_proj`, kIn);
    let kRope = split(kp.y);
    let kRopeSwap = split(kp.ySwap);
    let kRest: T | undefined;
    if (numKExcludeRope) {
      const nk = g.op1('Shape', [kRope], { start: 2, end: 3 });
      const nRope = g.sub(nk, numKExcludeRope);
      kRest = g.op1('Slice', [kRope, nRope, g.constI([Number.MAX_SAFE_INTEGER]), g.constI([2])]);
      kRope = g.op1('Slice', [kRope, g.constI([0]), nRope, g.constI([2])]);
      kRopeSwap = g.op1('Slice', [kRopeSwap, g.constI([0]), nRope, g.constI([2])]);
    }
    if (cfg.ropeKRepeat) {
      // [B,H,r·N,dh] → [B,H,r,N,dh]: every memory frame gets the query grid's rotation.
      const frames = (x: T): T => g.reshape(x, [0, 0, -1, rope.numTokens, dh]);
      kRope = g.reshape(rotate(g, frames(kRope), frames(kRopeSwap), rope), [0, 0, -1, dh]);
    } else {
      kRope = rotate(g, kRope, kRopeSwap, rope);
    }
    const k = kRest ? g.concat([kRope, kRest], 2) : kRope;

    const scores = g.div(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.constF(Math.sqrt(dh)));
    const probs = g.softmax(scores, -1);
    const out = cfg.kvInDim < dh
      ? valuesAtInputWidth(g, ws, `${prefix}.v_proj`, probs, vIn, heads, dh, cfg.kvInDim)
      : g.matmul(probs, split(linear(g, ws, `${prefix}.v_proj`, vIn)));
    const merged = heads === 1 ? g.squeeze(out, [1]) : g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, 0, internal]);
    return linear(g, ws, `${prefix}.out_proj`, merged);
  });
}

/** (probs·x)·Wv_hᵀ + bv_h per head: probs [B,H,N,M], x [B,M,kvIn] → [B,H,N,dh]. */
function valuesAtInputWidth(g: GraphBuilder, ws: WeightStore, prefix: string, probs: T, x: T, heads: number, dh: number, kvIn: number): T {
  const w = ws.get(`${prefix}.weight`, [heads * dh, kvIn]).data; // torch Linear [out, in]
  const wh = new Float32Array(heads * kvIn * dh); // [H, kvIn, dh]
  for (let h = 0; h < heads; h++) {
    for (let o = 0; o < dh; o++) for (let i = 0; i < kvIn; i++) wh[(h * kvIn + i) * dh + o] = w[(h * dh + o) * kvIn + i]!;
  }
  const px = g.matmul(probs, g.unsqueeze(x, [1])); // [B,H,N,kvIn]
  let y = g.matmul(px, g.initializer(wh, [heads, kvIn, dh], `${prefix}.weight_heads`));
  if (ws.has(`${prefix}.bias`)) y = g.add(y, g.initializer(ws.get(`${prefix}.bias`, [heads * dh]).data, [heads, 1, dh], `${prefix}.bias`));
  return y;
}
