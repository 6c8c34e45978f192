import { MedsamError } from '../../../common/errors.js';
import { GraphBuilder, type T } from '../../onnx/graphBuilder.js';
import { activation, layerNorm, linear, residualLayerNorm } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import type { MemoryModulesConfig } from './memoryConfig.js';
import { ropeAttention, ropeKeyTables, ropeTableConstants } from './ropeAttention.js';

/** Graph I/O names (sequence-first like upstream: tokens × batch × channels). */
export const MEMORY_ATTENTION_IO = {
  curr: 'curr', // [HW,1,C]
  currPos: 'curr_pos', // [HW,1,C]
  memory: 'memory', // [M,1,Cm], M dynamic
  memoryPos: 'memory_pos', // [M,1,Cm]
  /** float32 [1] holding an integer: how many trailing memory tokens are object pointers (no RoPE). */
  numObjPtrTokens: 'num_obj_ptr_tokens',
  out: 'pix_feat_with_mem', // [HW,1,C]
} as const;

/**
 * Upstream MemoryAttention (memory_attention.py): curr + 0.1·curr_pos, then pre-norm layers of
 * RoPE self-attention, RoPE cross-attention to the memory (keys + memory_pos; the object-pointer
 * tokens at the end are excluded from RoPE), and an FFN; a final LayerNorm. Dropout is eval-off.
 * The number of memory tokens M is dynamic; the query grid HW = (image_size/stride)² is fixed.
 */
export function buildMemoryAttentionGraph(cfg: MemoryModulesConfig, ws: WeightStore): Uint8Array {
  const ma = cfg.memoryAttention;
  const side = cfg.imageSize / cfg.backboneStride;
  if (!Number.isInteger(side))
    throw new MedsamError(`image_size ${cfg.imageSize} is not a multiple of backbone stride ${cfg.backboneStride}`, 'fix the model YAML');
  const hw = side * side;
  const C = ma.dModel;
  const Cm = ma.crossAttention.kvInDim;
  if (C !== cfg.hiddenDim)
    throw new MedsamError(`memory_attention.d_model ${C} differs from the neck d_model ${cfg.hiddenDim}`, 'fix the model YAML');
  if (Cm !== cfg.memDim)
    throw new MedsamError(`cross-attention kv_in_dim ${Cm} differs from the memory dim ${cfg.memDim}`, 'fix the model YAML');

  const g = new GraphBuilder('sam2_memory_attention');
  const io = MEMORY_ATTENTION_IO;
  const curr = g.input(io.curr, 'float', [hw, 1, C]);
  const currPos = g.input(io.currPos, 'float', [hw, 1, C]);
  const memory = g.input(io.memory, 'float', ['num_mem_tokens', 1, Cm]);
  const memoryPos = g.input(io.memoryPos, 'float', ['num_mem_tokens', 1, Cm]);
  const nPtrF = g.input(io.numObjPtrTokens, 'float', [1]);
  const nPtr = g.cast(nPtrF, 'int64');

  // Batch is 1: sequence-first [N,1,C] tokens are the 2-D [N,C] matrix (a reshape, no copy), and
  // 2-D Linear layers become single fused Gemm kernels in ORT.
  let out: T = g.reshape(curr, [hw, C]);
  if (ma.posEncAtInput) out = g.add(out, g.mulScalar(g.reshape(currPos, [hw, C]), 0.1));
  const qPos = g.reshape(currPos, [hw, C]);
  const mem = g.reshape(memory, [-1, Cm]);
  const memPos = g.reshape(memoryPos, [-1, Cm]);

  const selfRope = ropeTableConstants(g, ma.selfAttention, hw);
  const crossRope = ropeTableConstants(g, ma.crossAttention, hw);
  const numMem = g.op1('Shape', [mem], { start: 0, end: 1 });
  // Without rope_k_repeat upstream needs exactly one grid of keys, which these tables also give (r = 1).
  const crossKeyRope = ropeKeyTables(g, crossRope, numMem, nPtr);
  // The memory keys with their positional encoding are the same for every layer.
  const memKeys = ma.posEncAtCrossAttnKeys ? g.add(mem, memPos) : mem;

  // Pre-norm layers: each residual add and the LayerNorm after it (the next sub-layer's norm, or the
  // final norm) run as one kernel.
  const norms = (i: number): string[] => [1, 2, 3].map((n) => `memory_attention.layers.${i}.norm${n}`);
  let t2 = layerNorm(g, ws, ma.numLayers > 0 ? norms(0)[0]! : 'memory_attention.norm', out);
  for (let i = 0; i < ma.numLayers; i++) {
    const p = `memory_attention.layers.${i}`;
    const [, norm2, norm3] = norms(i);
    const nextNorm = i + 1 < ma.numLayers ? norms(i + 1)[0]! : 'memory_attention.norm';
    g.scope(`layer${i}`, () => {
      // self-attention
      const qk = ma.posEncAtAttn ? g.add(t2, qPos) : t2;
      ({ sum: out, normed: t2 } = residualLayerNorm(
        g,
        ws,
        norm2!,
        out,
        ropeAttention(g, ws, `${p}.self_attn`, ma.selfAttention, qk, qk, t2, selfRope, selfRope),
      ));
      // cross-attention to memories and object pointers
      const q = ma.posEncAtCrossAttnQueries ? g.add(t2, qPos) : t2;
      ({ sum: out, normed: t2 } = residualLayerNorm(
        g,
        ws,
        norm3!,
        out,
        ropeAttention(g, ws, `${p}.cross_attn_image`, ma.crossAttention, q, memKeys, mem, crossRope, crossKeyRope),
      ));
      // FFN
      const h = activation(g, linear(g, ws, `${p}.linear1`, t2), ma.activation);
      ({ sum: out, normed: t2 } = residualLayerNorm(g, ws, nextNorm, out, linear(g, ws, `${p}.linear2`, h)));
    });
  }
  const normed = t2;
  g.output(g.reshape(normed, [hw, 1, C]), io.out, 'float', [hw, 1, C]);
  return g.toBytes({ docString: 'SAM2 memory attention (medsam2.js graph builder)' });
}
