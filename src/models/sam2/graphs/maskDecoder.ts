import { GraphBuilder, type T } from '../../onnx/graphBuilder.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import { conv2d, layerNorm2d, linear, mlp } from '../../onnx/torchLayers.js';
import { embeddingSize, type SamHeadsConfig } from './samHeadsConfig.js';
import { denseImagePe } from './promptEncoder.js';
import { twoWayTransformer } from './twoWayTransformer.js';

/**
 * Upstream sam2/modeling/sam/mask_decoder.py MaskDecoder.predict_masks: every output token's
 * result, before the multimask / dynamic-stability selection (that selection is data-dependent
 * control flow and is done by the runner, see samHeadsSelection.ts).
 */

const D = 'sam_mask_decoder';

export interface MaskDecoderInputs {
  /** [1,C,h,w]. */
  image: T;
  /** [1,C,h,w]. */
  imagePe: T;
  /** [1,K,C]. */
  sparse: T;
  /** [1,C,h,w]. */
  dense: T;
  /** conv_s0 / conv_s1 outputs [1,C/8,4h,4w], [1,C/4,2h,2w]; required iff use_high_res_features_in_sam. */
  highRes0?: T;
  highRes1?: T;
}

export interface MaskDecoderOutputs {
  /** All mask-token masks [1, 1+numMultimask, 4h, 4w]. */
  masks: T;
  /** [1, 1+numMultimask]. */
  iouPred: T;
  /** Mask tokens after the transformer [1, 1+numMultimask, C]. */
  maskTokensOut: T;
  /** [1,1]. */
  objectScoreLogits: T;
}

/** Number of mask tokens (single-mask token + multimask tokens). */
export function numMaskTokens(cfg: SamHeadsConfig): number {
  return cfg.numMultimaskOutputs + 1;
}

export function maskDecoder(g: GraphBuilder, ws: WeightStore, cfg: SamHeadsConfig, x: MaskDecoderInputs): MaskDecoderOutputs {
  return g.scope('mask_decoder', () => {
    const C = cfg.hiddenDim;
    const nMask = numMaskTokens(cfg);
    const s = embeddingSize(cfg);

    // Output tokens [obj_score_token?, iou_token, mask_tokens...] followed by the prompt tokens.
    const rows: Float32Array[] = [];
    if (cfg.predObjScores) rows.push(ws.get(`${D}.obj_score_token.weight`, [1, C]).data);
    rows.push(ws.get(`${D}.iou_token.weight`, [1, C]).data);
    rows.push(ws.get(`${D}.mask_tokens.weight`, [nMask, C]).data);
    const nOut = (cfg.predObjScores ? 1 : 0) + 1 + nMask;
    const outTok = new Float32Array(nOut * C);
    let off = 0;
    for (const r of rows) {
      outTok.set(r, off);
      off += r.length;
    }
    const tokens = g.concat([g.initializer(outTok, [1, nOut, C], `${D}.output_tokens`), x.sparse], 1);

    const src = g.add(x.image, x.dense);
    const { queries: hs, keys } = twoWayTransformer(g, ws, `${D}.transformer`, src, x.imagePe, tokens, {
      depth: cfg.transformerDepth,
      numHeads: cfg.transformerHeads,
      channels: C,
    });
    const so = cfg.predObjScores ? 1 : 0;
    const iouTokenOut = g.squeeze(g.slice(hs, [so], [so + 1], [1]), [1]);
    const maskTokensOut = g.slice(hs, [so + 1], [so + 1 + nMask], [1]);

    // Upscale the image tokens back to NCHW, then to 4h×4w.
    const img = g.reshape(g.transpose(keys, [0, 2, 1]), [1, C, s, s]);
    const up = `${D}.output_upscaling`;
    let upscaled: T;
    if (cfg.useHighResFeaturesInSam) {
      if (!x.highRes0 || !x.highRes1) throw new Error('mask decoder: high-res features are required by this config');
      let u = g.add(conv2d(g, ws, `${up}.0`, img, { stride: 2, transpose: true }), x.highRes1);
      u = g.gelu(layerNorm2d(g, ws, `${up}.1`, u));
      upscaled = g.gelu(g.add(conv2d(g, ws, `${up}.3`, u, { stride: 2, transpose: true }), x.highRes0));
    } else {
      let u = conv2d(g, ws, `${up}.0`, img, { stride: 2, transpose: true });
      u = g.gelu(layerNorm2d(g, ws, `${up}.1`, u));
      upscaled = g.gelu(conv2d(g, ws, `${up}.3`, u, { stride: 2, transpose: true }));
    }

    // Hypernetwork MLP per mask token → [1,nMask,C/8], then dot with every upscaled pixel.
    const hyper: T[] = [];
    for (let i = 0; i < nMask; i++) {
      const tok = g.slice(maskTokensOut, [i], [i + 1], [1]);
      hyper.push(mlp(g, ws, `${D}.output_hypernetworks_mlps.${i}`, tok, 3, { act: 'relu' }));
    }
    const hyperIn = g.concat(hyper, 1);
    const c8 = ws.get(`${D}.output_upscaling.3.weight`).shape[1]!;
    const m = 4 * s;
    const masks = g.reshape(g.matmul(hyperIn, g.reshape(upscaled, [1, c8, m * m])), [1, nMask, m, m]);

    const iouPred = mlp(g, ws, `${D}.iou_prediction_head`, iouTokenOut, cfg.iouHeadDepth, {
      act: 'relu',
      sigmoidOutput: cfg.iouPredictionUseSigmoid,
    });

    let objectScoreLogits: T;
    if (cfg.predObjScores) {
      const objTok = g.squeeze(g.slice(hs, [0], [1], [1]), [1]);
      objectScoreLogits = cfg.predObjScoresMlp
        ? mlp(g, ws, `${D}.pred_obj_score_head`, objTok, 3, { act: 'relu' })
        : linear(g, ws, `${D}.pred_obj_score_head`, objTok);
    } else {
      // Upstream: 10.0 for every batch item (object assumed present).
      objectScoreLogits = g.constF([10], [1, 1]);
    }
    return { masks, iouPred, maskTokensOut, objectScoreLogits };
  });
}

/**
 * Standalone mask-decoder graph for parity tests: inputs image_embeddings, sparse/dense prompt
 * embeddings and (if used) high_res_0/high_res_1; image_pe is the build-time constant.
 */
export function buildMaskDecoderGraph(cfg: SamHeadsConfig, ws: WeightStore): Uint8Array {
  const g = new GraphBuilder('sam2_mask_decoder');
  const C = cfg.hiddenDim;
  const s = embeddingSize(cfg);
  const image = g.input('image_embeddings', 'float', [1, C, s, s]);
  const sparse = g.input('sparse_embeddings', 'float', [1, 'num_tokens', C]);
  const dense = g.input('dense_embeddings', 'float', [1, C, s, s]);
  const hr = cfg.useHighResFeaturesInSam ? highResInputs(g, cfg, ws) : {};
  const imagePe = g.initializer(denseImagePe(cfg, ws), [1, C, s, s], 'image_pe');
  const out = maskDecoder(g, ws, cfg, { image, imagePe, sparse, dense, ...hr });
  declareDecoderOutputs(g, cfg, out);
  return g.toBytes({ docString: 'SAM2 mask decoder (medsam2.js graph builder)' });
}

/** high_res_0 [1,C0,4h,4w], high_res_1 [1,C1,2h,2w] inputs, widths from the upscaling weights. */
export function highResInputs(g: GraphBuilder, cfg: SamHeadsConfig, ws: WeightStore): { highRes0: T; highRes1: T } {
  const s = embeddingSize(cfg);
  const c1 = ws.get(`${D}.output_upscaling.0.weight`).shape[1]!;
  const c0 = ws.get(`${D}.output_upscaling.3.weight`).shape[1]!;
  return {
    highRes0: g.input('high_res_0', 'float', [1, c0, 4 * s, 4 * s]),
    highRes1: g.input('high_res_1', 'float', [1, c1, 2 * s, 2 * s]),
  };
}

export function declareDecoderOutputs(g: GraphBuilder, cfg: SamHeadsConfig, out: MaskDecoderOutputs): void {
  const n = numMaskTokens(cfg);
  const m = 4 * embeddingSize(cfg);
  g.output(out.masks, 'masks', 'float', [1, n, m, m]);
  g.output(out.iouPred, 'iou_pred', 'float', [1, n]);
  g.output(out.maskTokensOut, 'mask_tokens_out', 'float', [1, n, cfg.hiddenDim]);
  g.output(out.objectScoreLogits, 'object_score_logits', 'float', [1, 1]);
}
