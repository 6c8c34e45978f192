import { GraphBuilder, type T } from '../../onnx/graphBuilder.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import { conv2d, linear, mlp } from '../../onnx/torchLayers.js';
import { embeddingSize, type SamHeadsConfig } from './samHeadsConfig.js';
import { denseEmbedding, denseImagePe, embedPoints, promptInputs } from './promptEncoder.js';
import { declareDecoderOutputs, highResInputs, maskDecoder, numMaskTokens } from './maskDecoder.js';

/**
 * SAM2Base._forward_sam_heads as one graph: prompt encoder → mask decoder → obj_ptr_proj on
 * every mask token. The data-dependent parts (multimask / dynamic-stability selection, argmax IoU,
 * no-object gating) are left to the runner, so the graph has no control flow and its outputs
 * are every token's result.
 *
 * Inputs: pix_feat [1,C,h,w], high_res_0 [1,C/8,4h,4w], high_res_1 [1,C/4,2h,2w] (when the config
 * uses them), point_coords [1,N,2] (model-input pixels), point_labels [1,N] int32,
 * mask_input [1,1,4h,4w], has_mask_input bool [1].
 * Outputs: masks [1,T,4h,4w], iou_pred [1,T], mask_tokens_out [1,T,C], object_score_logits [1,1],
 * obj_ptr_tokens [1,T,C] (T = 1 + num_multimask_outputs), plus sparse_embeddings / dense_embeddings
 * when `exposePrompts`.
 */
export function buildSamHeadsGraph(cfg: SamHeadsConfig, ws: WeightStore, opts: { exposePrompts?: boolean } = {}): Uint8Array {
  // Opset 20: GELU is one Gelu kernel (ORT does not fuse the Erf form on CPU).
  const g = new GraphBuilder('sam2_sam_heads', { opset: 20 });
  const C = cfg.hiddenDim;
  const s = embeddingSize(cfg);
  const image = g.input('pix_feat', 'float', [1, C, s, s]);
  const hr = cfg.useHighResFeaturesInSam ? highResInputs(g, cfg, ws) : {};
  const p = promptInputs(g, cfg);
  const sparse = embedPoints(g, ws, cfg, p.coords, p.labels);
  const dense = denseEmbedding(g, ws, cfg, p.mask, p.hasMask);
  const imagePe = g.initializer(denseImagePe(cfg, ws), [1, C, s, s], 'image_pe');
  const out = maskDecoder(g, ws, cfg, { image, imagePe, sparse, dense, ...hr });
  declareDecoderOutputs(g, cfg, out);
  g.output(objPtrProj(g, ws, cfg, out.maskTokensOut), 'obj_ptr_tokens', 'float', [1, numMaskTokens(cfg), C]);
  if (opts.exposePrompts) {
    g.output(sparse, 'sparse_embeddings', 'float', [1, 'num_tokens', C]);
    g.output(dense, 'dense_embeddings', 'float', [1, C, s, s]);
  }
  return g.toBytes({ docString: 'SAM2 SAM heads: prompt encoder + mask decoder + obj_ptr_proj (medsam2.js graph builder)' });
}

/** obj_ptr_proj: MLP(C,C,C,3) with use_mlp_for_obj_ptr_proj, else Linear; Identity without object pointers. */
export function objPtrProj(g: GraphBuilder, ws: WeightStore, cfg: SamHeadsConfig, x: T): T {
  if (!cfg.useObjPtrsInEncoder) return g.op1('Identity', [x]);
  return g.scope('obj_ptr_proj', () =>
    cfg.useMlpForObjPtrProj ? mlp(g, ws, 'obj_ptr_proj', x, 3, { act: 'relu' }) : linear(g, ws, 'obj_ptr_proj', x),
  );
}

/** Standalone obj_ptr_proj graph (parity tests): x [B,C] → obj_ptr [B,C]. */
export function buildObjPtrProjGraph(cfg: SamHeadsConfig, ws: WeightStore): Uint8Array {
  const g = new GraphBuilder('sam2_obj_ptr_proj');
  const x = g.input('x', 'float', ['batch', cfg.hiddenDim]);
  g.output(objPtrProj(g, ws, cfg, x), 'obj_ptr', 'float', ['batch', cfg.hiddenDim]);
  return g.toBytes({ docString: 'SAM2 obj_ptr_proj (medsam2.js graph builder)' });
}

/**
 * SAM2Base.mask_downsample (Conv2d 1→1, kernel 4, stride 4): a [1,1,S,S] mask → [1,1,S/4,S/4]
 * prompt for the mask-as-output path's object pointer.
 */
export function buildMaskDownsampleGraph(cfg: SamHeadsConfig, ws: WeightStore): Uint8Array {
  const g = new GraphBuilder('sam2_mask_downsample');
  const w = ws.get('mask_downsample.weight');
  const k = w.shape[2]!;
  const S = cfg.imageSize;
  const x = g.input('mask', 'float', [1, 1, S, S]);
  g.output(conv2d(g, ws, 'mask_downsample', x, { stride: k }), 'mask_low_res', 'float', [1, 1, S / k, S / k]);
  return g.toBytes({ docString: 'SAM2 mask_downsample (medsam2.js graph builder)' });
}
