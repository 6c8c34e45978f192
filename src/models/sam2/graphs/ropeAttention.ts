import { MedsamError } from '../../../common/errors.js';
import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';
import { linear } from '../../onnx/torchLayers.js';
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
  if (dim % 4 !== 0)
    throw new MedsamError(`RoPE head dim ${dim} is not a multiple of 4`, 'use a memory-attention embedding_dim/num_heads divisible by 4');
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
    throw new MedsamError(
      `memory attention has ${numTokens} query tokens, not a square grid`,
      'use a square image_size that is a multiple of the backbone stride',
    );
  }
  return [side, side];
}

/**
 * RoPE as ORT's fused com.microsoft RotaryEmbedding kernel (interleaved pairs, exactly
 * (x0·c − x1·s, x1·c + x0·s) per pair like torch's complex multiply): one pass over the tokens
 * instead of a pair-swapped projection plus Mul/Mul/Add over full-size tables. The cache holds one
 * row per grid cell plus an identity row (cos 1, sin 0) for tokens that stay unrotated.
 */
export interface RopeTables {
  /** [numTokens + 1, headDim/2] cos / sin of each pair's angle; the last row is the identity. */
  cosCache: T;
  sinCache: T;
  /** int64 [tokens, 1]: the cache row of each token (tokens are fed as a batch of length-1 sequences, so the kernel's sequence ≤ cache-rows limit always holds). */
  positionIds: T;
  /** Number of grid cells (query tokens) the cache covers; the identity row's index. */
  numTokens: number;
  headDim: number;
}

export function ropeTableConstants(g: GraphBuilder, cfg: RopeAttentionConfig, numTokens: number): RopeTables {
  const headDim = cfg.embeddingDim / cfg.downsampleRate / cfg.numHeads;
  const [ex, ey] = ropeGrid(cfg, numTokens);
  const { cos, sin } = axialRopeTables(headDim, ex, ey, cfg.ropeTheta);
  const half = headDim / 2;
  const cosCache = new Float32Array((numTokens + 1) * half);
  const sinCache = new Float32Array((numTokens + 1) * half);
  for (let t = 0; t < numTokens; t++) {
    for (let j = 0; j < half; j++) {
      cosCache[t * half + j] = cos[t * headDim + 2 * j]!;
      sinCache[t * half + j] = sin[t * headDim + 2 * j + 1]!;
    }
  }
  cosCache.fill(1, numTokens * half);
  const ids = BigInt64Array.from({ length: numTokens }, (_, t) => BigInt(t));
  return {
    cosCache: g.initializer(cosCache, [numTokens + 1, half], 'rope_cos_cache'),
    sinCache: g.initializer(sinCache, [numTokens + 1, half], 'rope_sin_cache'),
    positionIds: g.initializer(ids, [numTokens, 1], 'rope_position_ids'),
    numTokens,
    headDim,
  };
}

/**
 * Key positions for M = r·N + P key tokens: the query grid repeated r times (rope_k_repeat: one
 * copy per memory frame), then P tokens on the identity row for the object pointers upstream leaves
 * unrotated (x·1 − x'·0 = x exactly). Built once per graph from the dynamic key count and shared
 * by every layer.
 */
export function ropeKeyTables(g: GraphBuilder, r: RopeTables, numKeys: T, numKExcludeRope: T): RopeTables {
  const nRope = g.squeeze(g.sub(numKeys, numKExcludeRope), [0]); // int64 scalar
  const grid = g.op1('Mod', [g.op1('Range', [g.constI(0), nRope, g.constI(1)]), g.constI(r.numTokens)]);
  const ptr = g.expand(g.constI([r.numTokens]), numKExcludeRope);
  return { ...r, positionIds: g.unsqueeze(g.concat([grid, ptr], 0), [1]) };
}

/** RoPE on [tokens, H·dh] (H heads of interleaved pairs) with the fused kernel; same shape out. */
function rotate(g: GraphBuilder, x: T, r: RopeTables, heads: number): T {
  const x3 = g.reshape(x, [-1, 1, heads * r.headDim]);
  const y = g.op('RotaryEmbedding', [x3, r.positionIds, r.cosCache, r.sinCache], { interleaved: 1 }, 1, 'com.microsoft')[0]!;
  return g.reshape(y, [-1, heads * r.headDim]);
}

/**
 * Upstream RoPEAttention.forward for batch 1, tokens as 2-D [N,C] (so every Linear is a MatMul+Add
 * that ORT fuses into one Gemm). Queries are rotated with the grid tables `qRope`; keys with
 * `kRope` (the same tables for self-attention; for cross-attention ropeKeyTables: the grid once
 * per memory frame, identity for the object-pointer tokens). Attention is softmax(q·kᵀ/√d)·v, as
 * the fixtures' math-SDPA form.
 *
 * Speed: when the values are no wider than a head (cross-attention to 64-d memories, or one-head
 * self-attention), the value and output projections fold into one (valuesThroughOutProj). With
 * one head the head split is a reshape.
 */
export function ropeAttention(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  cfg: RopeAttentionConfig,
  qIn: T,
  kIn: T,
  vIn: T,
  qRope: RopeTables,
  kRope: RopeTables,
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
    const q = split(rotate(g, linear(g, ws, `${prefix}.q_proj`, qIn), qRope, heads));
    const k = split(rotate(g, linear(g, ws, `${prefix}.k_proj`, kIn), kRope, heads));

    const scores = g.div(g.matmul(q, g.transpose(k, [0, 2, 1])), g.constF(Math.sqrt(dh)));
    const probs = g.softmax(scores, -1);
    if (cfg.kvInDim <= dh) return valuesThroughOutProj(g, ws, prefix, probs, vIn, heads, dh, cfg.kvInDim, cfg.embeddingDim);
    const out = g.matmul(probs, split(linear(g, ws, `${prefix}.v_proj`, vIn)));
    const merged = heads === 1 ? g.squeeze(out, [0]) : g.reshape(g.transpose(out, [1, 0, 2]), [0, internal]);
    return linear(g, ws, `${prefix}.out_proj`, merged);
  });
}

/**
 * out_proj(softmax(s)·v_proj(x)) for values no wider than a head, as Σ_h (P_h·x)·F_h + b′ with
 * F_h = Wv_hᵀ·Wo_hᵀ [kvIn, C] and b′ = Wo·bv + bo folded in float64 at build time: the same maths
 * (softmax rows sum to 1, so the value bias passes through P unchanged), with the M-long
 * reduction done at the input width (4× fewer FLOPs for 64-d memories and 256-d heads) and the
 * value and output projections as one small matmul instead of two.
 */
function valuesThroughOutProj(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  probs: T,
  x: T,
  heads: number,
  dh: number,
  kvIn: number,
  cOut: number,
): T {
  const internal = heads * dh;
  const wv = ws.get(`${prefix}.v_proj.weight`, [internal, kvIn]).data; // torch Linear [out, in]
  const wo = ws.get(`${prefix}.out_proj.weight`, [cOut, internal]).data;
  const f = new Float32Array(heads * kvIn * cOut); // [H, kvIn, C]
  const acc = new Float64Array(cOut);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < kvIn; i++) {
      acc.fill(0);
      for (let d = 0; d < dh; d++) {
        const v = wv[(h * dh + d) * kvIn + i]!;
        for (let o = 0; o < cOut; o++) acc[o]! += v * wo[o * internal + h * dh + d]!;
      }
      f.set(acc, (h * kvIn + i) * cOut);
    }
  }
  const bias = new Float64Array(cOut);
  if (ws.has(`${prefix}.out_proj.bias`)) bias.set(ws.get(`${prefix}.out_proj.bias`, [cOut]).data);
  if (ws.has(`${prefix}.v_proj.bias`)) {
    const bv = ws.get(`${prefix}.v_proj.bias`, [internal]).data;
    for (let o = 0; o < cOut; o++) for (let j = 0; j < internal; j++) bias[o]! += wo[o * internal + j]! * bv[j]!;
  }
  const px = g.matmul(probs, x); // [H,N,kvIn]
  const y =
    heads === 1
      ? g.matmul(g.squeeze(px, [0]), g.initializer(f, [kvIn, cOut], `${prefix}.v_out_proj.weight`))
      : g.op1('ReduceSum', [g.matmul(px, g.initializer(f, [heads, kvIn, cOut], `${prefix}.v_out_proj.weight`)), g.constI([0])], {
          keepdims: 0,
        });
  return g.add(y, g.initializer(Float32Array.from(bias), [cOut], `${prefix}.v_out_proj.bias`));
}
