import { MedsamError } from '../../../common/errors.js';
import { GraphBuilder, type T } from '../../onnx/graphBuilder.js';
import { conv2d, layerNorm, layerNorm2d, linearBiasGelu, transpose2d } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import type { MemoryModulesConfig } from './memoryConfig.js';

/** Graph I/O names. */
export const MEMORY_ENCODER_IO = {
  pixFeat: 'pix_feat', // [1,C,h,w] un-conditioned backbone features
  lowResMasks: 'low_res_masks', // [1,1,4h,4w] mask logits
  objectScoreLogits: 'object_score_logits', // [1,1]
  /** float32 [1]: 1 → binarise the upsampled logits (>0), 0 → sigmoid. */
  binarize: 'binarize',
  features: 'maskmem_features', // [1,Cm,h,w] float32 (before the predictor's bf16 storage cast)
  posEnc: 'maskmem_pos_enc', // [1,Cm,h,w]
  /** Debug output (opts.debugMaskForMem): the mask fed to the memory encoder, [1,1,S,S]. */
  maskForMem: 'mask_for_mem',
} as const;

const f32 = Math.fround;

/**
 * Upstream PositionEmbeddingSine.forward (position_encoding.py) for a [numPosFeats,h,w] map,
 * rounded step by step to float32 as torch computes it: channels are (y sin/cos interleaved, then
 * x), positions 1..h normalised by (h + 1e-6) and scaled by 2π.
 */
export function sinePositionEncoding2d(
  numPosFeats: number,
  h: number,
  w: number,
  o: { temperature?: number; normalize?: boolean; scale?: number } = {},
): Float32Array {
  if (numPosFeats % 2 !== 0) throw new MedsamError(`position encoding num_pos_feats ${numPosFeats} is odd`, 'fix the model YAML');
  const npf = numPosFeats / 2;
  const temperature = o.temperature ?? 10000;
  const scale = f32(o.scale ?? 2 * Math.PI);
  const eps = 1e-6;
  const dimT = new Float32Array(npf);
  for (let d = 0; d < npf; d++) dimT[d] = f32(Math.pow(temperature, f32(f32(2 * Math.floor(d / 2)) / npf)));
  const embed = (i: number, n: number): number => ((o.normalize ?? true) ? f32(f32(f32(i + 1) / f32(n + eps)) * scale) : i + 1);
  const out = new Float32Array(2 * npf * h * w);
  for (let y = 0; y < h; y++) {
    const ye = embed(y, h);
    for (let x = 0; x < w; x++) {
      const xe = embed(x, w);
      for (let d = 0; d < npf; d++) {
        const py = f32(ye / dimT[d]!);
        const px = f32(xe / dimT[d]!);
        out[(d * h + y) * w + x] = f32(d % 2 === 0 ? Math.sin(py) : Math.cos(py));
        out[((npf + d) * h + y) * w + x] = f32(d % 2 === 0 ? Math.sin(px) : Math.cos(px));
      }
    }
  }
  return out;
}

/**
 * ConvNeXt block (upstream CXBlock): dwconv → LayerNorm2d → Linear → GELU → Linear → γ·x, residual.
 * The channel LayerNorm runs after the move to channels-last, where it is one LayerNormalization
 * kernel over the last axis (same normalisation; upstream's permute comes right after the norm);
 * pwconv1's bias + GELU is one com.microsoft BiasGelu kernel; γ is folded into pwconv2
 * ((γ⊙W2)·h + γ⊙b2, a linear-algebra fold).
 */
function cxBlock(g: GraphBuilder, ws: WeightStore, p: string, x: T, cfg: MemoryModulesConfig['memoryEncoder']['fuser']): T {
  const dim = cfg.dim;
  let y = conv2d(g, ws, `${p}.dwconv`, x, { padding: cfg.padding, groups: cfg.useDwconv ? dim : 1 });
  y = g.transpose(y, [0, 2, 3, 1]);
  y = layerNorm(g, ws, `${p}.norm`, y, 1e-6);
  const h = linearBiasGelu(g, ws, `${p}.pwconv1`, y);
  const hidden = ws.get(`${p}.pwconv1.weight`).shape[0]!;
  const w2 = Float32Array.from(ws.get(`${p}.pwconv2.weight`, [dim, hidden]).data);
  const b2 = Float32Array.from(ws.get(`${p}.pwconv2.bias`, [dim]).data);
  if (ws.has(`${p}.gamma`)) {
    const gamma = ws.get(`${p}.gamma`, [dim]).data;
    for (let o = 0; o < dim; o++) {
      b2[o] = Math.fround(b2[o]! * gamma[o]!);
      for (let i = 0; i < hidden; i++) w2[o * hidden + i] = Math.fround(w2[o * hidden + i]! * gamma[o]!);
    }
  }
  y = g.add(
    g.matmul(h, g.initializer(transpose2d(w2, dim, hidden), [hidden, dim], `${p}.pwconv2.weight_gamma`)),
    g.initializer(b2, [dim], `${p}.pwconv2.bias_gamma`),
  );
  return g.add(x, g.transpose(y, [0, 3, 1, 2]));
}

/**
 * Upstream SAM2Base._encode_new_memory + MemoryEncoder.forward for one object:
 * low-res logits → bilinear (align_corners=False) to S×S → binarise or sigmoid → ·scale + bias →
 * MaskDownSampler (conv s2 + LayerNorm2d + GELU, ×log_s(16), 1×1 conv) + pix_feat_proj(pix_feat)
 * → Fuser (CXBlocks) → out_proj; then + no_obj_embed_spatial·(1 − [score > 0]). The sine position
 * encoding is a constant of the feature size and is returned as a second output.
 */
export function buildMemoryEncoderGraph(cfg: MemoryModulesConfig, ws: WeightStore, opts: { debugMaskForMem?: boolean } = {}): Uint8Array {
  const me = cfg.memoryEncoder;
  const S = cfg.imageSize;
  const side = S / cfg.backboneStride;
  const md = me.maskDownsampler;
  const numDown = Math.round(Math.log2(md.totalStride) / Math.log2(md.stride));
  if (!Number.isInteger(side) || md.stride ** numDown !== md.totalStride || S / md.totalStride !== side) {
    throw new MedsamError(
      `memory encoder mask downsampler (stride ${md.stride}, total ${md.totalStride}) does not map image_size ${S} to the ${side}×${side} feature map`,
      'fix the model YAML (image_size, backbone_stride, mask_downsampler)',
    );
  }
  const C = cfg.hiddenDim;
  if (me.inDim !== C || md.embedDim !== C || me.fuser.dim !== C) {
    throw new MedsamError(
      `memory encoder widths (in_dim ${me.inDim}, mask_downsampler.embed_dim ${md.embedDim}, fuser dim ${me.fuser.dim}) must equal neck d_model ${C}`,
      'set memory_encoder.in_dim and mask_downsampler.embed_dim in the YAML',
    );
  }
  const Cm = cfg.memDim;
  const io = MEMORY_ENCODER_IO;
  // Opset 20: GELU is one Gelu kernel (ORT does not fuse the Erf form on CPU).
  const g = new GraphBuilder('sam2_memory_encoder', { opset: 20 });
  const pixFeat = g.input(io.pixFeat, 'float', [1, C, side, side]);
  const lowRes = g.input(io.lowResMasks, 'float', [1, 1, 'mask_h', 'mask_w']);
  const score = g.input(io.objectScoreLogits, 'float', [1, 1]);
  const binarize = g.input(io.binarize, 'float', [1]);

  // mask_for_mem
  const highRes = g.resize(lowRes, [1, 1, S, S], { mode: 'linear', coord: 'half_pixel' });
  const zero = g.constF(0);
  const binary = g.cast(g.op1('Greater', [highRes, zero]), 'float');
  const useBinary = g.cast(binarize, 'bool');
  let mask = g.where(useBinary, binary, g.sigmoid(highRes));
  if (cfg.sigmoidScaleForMemEnc !== 1) mask = g.mulScalar(mask, cfg.sigmoidScaleForMemEnc);
  if (cfg.sigmoidBiasForMemEnc !== 0) mask = g.addScalar(mask, cfg.sigmoidBiasForMemEnc);
  if (opts.debugMaskForMem) g.output(mask, io.maskForMem, 'float', [1, 1, S, S]);

  // MaskDownSampler
  let m = mask;
  let ch = 1;
  g.scope('mask_downsampler', () => {
    for (let i = 0; i < numDown; i++) {
      const p = `memory_encoder.mask_downsampler.encoder.${3 * i}`;
      const next = ch * md.stride * md.stride;
      ws.get(`${p}.weight`, [next, ch, md.kernelSize, md.kernelSize]);
      m = conv2d(g, ws, p, m, { stride: md.stride, padding: md.padding });
      m = g.gelu(layerNorm2d(g, ws, `memory_encoder.mask_downsampler.encoder.${3 * i + 1}`, m, 1e-6));
      ch = next;
    }
    m = conv2d(g, ws, `memory_encoder.mask_downsampler.encoder.${3 * numDown}`, m);
  });

  let x = g.add(conv2d(g, ws, 'memory_encoder.pix_feat_proj', pixFeat), m);
  if (me.fuser.inputProjection) x = conv2d(g, ws, 'memory_encoder.fuser.proj', x);
  for (let i = 0; i < me.fuser.numLayers; i++) {
    x = g.scope(`fuser${i}`, () => cxBlock(g, ws, `memory_encoder.fuser.layers.${i}`, x, me.fuser));
  }
  if (me.outDim !== me.inDim) x = conv2d(g, ws, 'memory_encoder.out_proj', x);

  if (cfg.noObjEmbedSpatial) {
    const emb = ws.get('no_obj_embed_spatial', [1, Cm]).data;
    const isObj = g.cast(g.op1('Greater', [score, zero]), 'float');
    const notObj = g.reshape(g.sub(g.constF(1), isObj), [1, 1, 1, 1]);
    x = g.add(x, g.mul(notObj, g.initializer(emb, [1, Cm, 1, 1], 'no_obj_embed_spatial')));
  }
  g.output(x, io.features, 'float', [1, Cm, side, side]);

  const pe = sinePositionEncoding2d(me.posEnc.numPosFeats, side, side, me.posEnc);
  if (me.posEnc.numPosFeats !== Cm)
    throw new MedsamError(`memory position encoding has ${me.posEnc.numPosFeats} channels, memory dim is ${Cm}`, 'fix the model YAML');
  g.output(g.initializer(pe, [1, Cm, side, side], 'maskmem_pos_enc'), io.posEnc, 'float', [1, Cm, side, side]);
  return g.toBytes({ docString: 'SAM2 memory encoder (medsam2.js graph builder)' });
}
