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
  /** Gather indices swapping each interleaved pair: [1,0,3,2,…]. */
  swap: T;
  /** Number of query tokens the tables cover. */
  numTokens: number;
  headDim: number;
}

export function ropeTableConstants(g: GraphBuilder, cfg: RopeAttentionConfig, numTokens: number): RopeTables {
  const headDim = cfg.embeddingDim / cfg.downsampleRate / cfg.numHeads;
  const [ex, ey] = ropeGrid(cfg, numTokens);
  const { cos, sin } = axialRopeTables(headDim, ex, ey, cfg.ropeTheta);
  const swap = Array.from({ length: headDim }, (_, i) => i ^ 1);
  return {
    cos: g.initializer(cos, [numTokens, headDim], 'rope_cos'),
    sin: g.initializer(sin, [numTokens, headDim], 'rope_sin'),
    swap: g.constI(swap),
    numTokens,
    headDim,
  };
}

/** x·cosT + swap(x)·sinT over the last axis; x's last two axes are [numTokens, headDim]. */
function rotate(g: GraphBuilder, x: T, r: RopeTables, axis: number): T {
  return g.add(g.mul(x, r.cos), g.mul(g.gather(x, r.swap, axis), r.sin));
}

/**
 * Upstream RoPEAttention.forward, batch-first tokens [B,N,·]. Queries are rotated with the grid
 * tables; keys too, where with rope_k_repeat the key tokens are whole copies of the grid (one per
 * memory frame) and the last `numKExcludeRope` keys (object-pointer tokens, int64 [1]) are left
 * unrotated. Attention is softmax(q·kᵀ/√d)·v, as the fixtures' math-SDPA form.
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
    const split = (x: T): T => g.transpose(g.reshape(x, [0, 0, heads, dh]), [0, 2, 1, 3]);
    const q = rotate(g, split(linear(g, ws, `${prefix}.q_proj`, qIn)), rope, 3);
    let k = split(linear(g, ws, `${prefix}.k_proj`, kIn));
    const v = split(linear(g, ws, `${prefix}.v_proj`, vIn));

    let kRope = k;
    let kRest: T | undefined;
    if (numKExcludeRope) {
      const nk = g.op1('Shape', [k], { start: 2, end: 3 });
      const nRope = g.sub(nk, numKExcludeRope);
      kRope = g.op1('Slice', [k, g.constI([0]), nRope, g.constI([2])]);
      kRest = g.op1('Slice', [k, nRope, g.constI([Number.MAX_SAFE_INTEGER]), g.constI([2])]);
    }
    if (cfg.ropeKRepeat) {
      // [B,H,r·N,dh] → [B,H,r,N,dh]: every memory frame gets the query grid's rotation.
      const k5 = g.reshape(kRope, [0, 0, -1, rope.numTokens, dh]);
      kRope = g.reshape(rotate(g, k5, rope, 4), [0, 0, -1, dh]);
    } else {
      kRope = rotate(g, kRope, rope, 3);
    }
    k = kRest ? g.concat([kRope, kRest], 2) : kRope;

    const scores = g.div(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.constF(Math.sqrt(dh)));
    const out = g.matmul(g.softmax(scores, -1), v);
    const merged = g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, 0, internal]);
    return linear(g, ws, `${prefix}.out_proj`, merged);
  });
}
