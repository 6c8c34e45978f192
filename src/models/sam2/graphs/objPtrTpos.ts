import { MedsamError } from '../../../common/errors.js';
import { GraphBuilder } from '../../onnx/graphBuilder.js';
import { linear } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import type { MemoryModulesConfig } from './memoryConfig.js';

export const OBJ_PTR_TPOS_IO = {
  /** float32 [K]: signed frame distances of the pointers (integers). */
  relPos: 'rel_pos',
  /** float32 [1]: t_diff_max = min(num_frames, max_obj_ptrs_in_encoder) − 1. */
  tDiffMax: 't_diff_max',
  out: 'obj_ptr_tpos', // [K,Cm]
} as const;

/** Width of the sine encoding: hidden dim when it is projected, else the memory dim (upstream tpos_dim). */
export function objPtrTposDim(cfg: MemoryModulesConfig): number {
  return cfg.projTposEncInObjPtrs ? cfg.hiddenDim : cfg.memDim;
}

/** Upstream get_1d_sine_pe's divisors temperature^(2·⌊d/2⌋/(dim/2)), rounded to float32 per step. */
export function sinePeDivisors(dim: number, temperature = 10000): Float32Array {
  const pe = Math.floor(dim / 2);
  const f32 = Math.fround;
  return Float32Array.from({ length: pe }, (_, d) => f32(Math.pow(temperature, f32(f32(2 * Math.floor(d / 2)) / pe))));
}

/**
 * Object-pointer temporal encoding of SAM2Base._prepare_memory_conditioned_features:
 * get_1d_sine_pe(pos / t_diff_max, dim) = [sin(p/dim_t), cos(p/dim_t)], then obj_ptr_tpos_proj
 * (Linear C→Cm) when proj_tpos_enc_in_obj_ptrs. K is dynamic. Configs without add_tpos_enc_to_obj_ptrs
 * use zeros (the runner handles that without a graph).
 */
export function buildObjPtrTposGraph(cfg: MemoryModulesConfig, ws: WeightStore): Uint8Array {
  const dim = objPtrTposDim(cfg);
  if (dim % 2 !== 0) throw new MedsamError(`object-pointer temporal encoding width ${dim} is odd`, 'fix the model YAML');
  const io = OBJ_PTR_TPOS_IO;
  const g = new GraphBuilder('sam2_obj_ptr_tpos');
  const rel = g.input(io.relPos, 'float', ['num_ptrs']);
  const tdm = g.input(io.tDiffMax, 'float', [1]);
  const pos = g.unsqueeze(g.div(rel, tdm), [1]);
  const arg = g.div(pos, g.initializer(sinePeDivisors(dim), [dim / 2], 'dim_t'));
  let pe = g.concat([g.sin(arg), g.cos(arg)], 1);
  if (cfg.projTposEncInObjPtrs) {
    ws.get('obj_ptr_tpos_proj.weight', [cfg.memDim, cfg.hiddenDim]);
    pe = linear(g, ws, 'obj_ptr_tpos_proj', pe);
  }
  g.output(pe, io.out, 'float', ['num_ptrs', cfg.memDim]);
  return g.toBytes({ docString: 'SAM2 object-pointer temporal encoding (medsam2.js graph builder)' });
}
