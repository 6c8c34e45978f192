import { MedsamError } from '../../../common/errors.js';
import { GraphBuilder, type T } from '../../onnx/graphBuilder.js';
import { conv2d } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import type { AttentionImpl } from './hieraAttention.js';
import type { ImageEncoderConfig } from './hieraConfig.js';
import { composePointwise, fpnNeck, fpnNeckTokens, pointwiseTokens, pointwiseWeights, tokenNeckSupported } from './hieraFpnNeck.js';
import { sinePositionEncoding } from './hieraPosEmbed.js';
import { toNchw } from './hieraTokens.js';
import { hieraTrunk } from './hieraTrunk.js';

/** Graph input/output names of the image encoder graph. */
export const IMAGE_ENCODER_IO = {
  image: 'image',
  visionFeatures: 'vision_features',
  visionPosEnc: 'vision_pos_enc',
  highRes0: 'high_res_feat_0',
  highRes1: 'high_res_feat_1',
  /** Debug outputs: trunk stage i (NCHW), FPN level i before scalp, its position encoding. */
  trunk: (i: number) => `trunk_${i}`,
  fpn: (i: number) => `backbone_fpn_${i}`,
  fpnPos: (i: number) => `vision_pos_enc_${i}`,
} as const;

export interface ImageEncoderGraphOptions {
  /** Also output every trunk stage and every FPN level (for parity tests that name the failing stage). */
  debug?: boolean;
  /** Attention emission (default 'matmul'; 'mha' uses ORT's fused contrib kernel). */
  attention?: AttentionImpl;
}

/** Sizes of the encoder outputs for a config: h = w = image_size / backbone_stride, C = d_model. */
export function imageEncoderShapes(cfg: ImageEncoderConfig): { side: number; hiddenDim: number; highRes0: number[]; highRes1: number[] } {
  const side = cfg.imageSize / cfg.backboneStride;
  const C = cfg.neck.dModel;
  return { side, hiddenDim: C, highRes0: [1, C / 8, 4 * side, 4 * side], highRes1: [1, C / 4, 2 * side, 2 * side] };
}

/**
 * SAM2Base.forward_image as one ONNX graph: Hiera trunk → FpnNeck → scalp, with conv_s0/conv_s1 of
 * the mask decoder applied to backbone_fpn[0]/[1]. Input `image` [1,3,S,S] (normalised);
 * outputs vision_features = backbone_fpn[-1], vision_pos_enc[-1], high_res_feat_0/1.
 */
export function buildImageEncoderGraph(cfg: ImageEncoderConfig, ws: WeightStore, opts: ImageEncoderGraphOptions = {}): Uint8Array {
  const S = cfg.imageSize;
  if (!cfg.useHighResFeaturesInSam) {
    throw new MedsamError(
      'SAM2 configs without use_high_res_features_in_sam are not supported',
      'use a SAM2.1 / MedSAM2 model YAML (they set it to true)',
    );
  }
  if (S % 32 !== 0) throw new MedsamError(`SAM2 image_size ${S} is not a multiple of 32`, 'use image_size 512 or 1024');
  const io = IMAGE_ENCODER_IO;
  // opset 20 for the Gelu op (see geluMlp)
  const g = new GraphBuilder('sam2_image_encoder', { opset: 20 });
  const image = g.input(io.image, 'float', [1, 3, S, S]);

  const trunk = g.scope('trunk', () => hieraTrunk(g, ws, 'image_encoder.trunk', cfg.trunk, image, S, opts.attention ?? 'matmul'));
  const nLevels = trunk.stages.length;
  const nKept = nLevels - cfg.scalp;
  if (nKept < 3)
    throw new MedsamError(
      `SAM2 image encoder keeps ${nKept} FPN levels after scalp ${cfg.scalp}; 3 are needed`,
      'fix the model YAML (scalp / stages)',
    );
  const lastStage = trunk.stages[nKept - 1]!;
  const side = S / cfg.backboneStride;
  if (lastStage.h !== side || lastStage.w !== side) {
    throw new MedsamError(
      `SAM2 image encoder features are ${lastStage.h}x${lastStage.w}, backbone_stride ${cfg.backboneStride} implies ${side}x${side}`,
      'fix backbone_stride in the model YAML',
    );
  }
  const C = cfg.neck.dModel;
  const shapes = imageEncoderShapes(cfg);
  const P = cfg.neck.positionEncoding.numPosFeats;
  const posConst = (i: number): string => {
    const st = trunk.stages[i]!;
    return g.initializer(sinePositionEncoding(cfg.neck.positionEncoding, st.h, st.w), [1, P, st.h, st.w], `vision_pos_enc_${i}`);
  };
  const lastPos = posConst(nKept - 1);
  g.output(lastPos, io.visionPosEnc, 'float', [1, P, side, side]);
  if (opts.debug) trunk.stages.forEach((st, i) => g.output(toNchw(g, st), io.trunk(i), 'float', [1, st.c, st.h, st.w]));

  // Both neck forms give NCHW tensors: the kept top level, conv_s0/conv_s1, and every level for debug.
  const neck = tokenNeckSupported(cfg.neck) ? tokenNeck() : plainNeck();
  g.output(neck.visionFeatures, io.visionFeatures, 'float', [1, C, side, side]);
  g.output(neck.highRes0, io.highRes0, 'float', shapes.highRes0);
  g.output(neck.highRes1, io.highRes1, 'float', shapes.highRes1);
  if (opts.debug) {
    trunk.stages.forEach((st, i) => {
      g.output(neck.level(i), io.fpn(i), 'float', [1, C, st.h, st.w]);
      g.output(i === nKept - 1 ? lastPos : posConst(i), io.fpnPos(i), 'float', [1, P, st.h, st.w]);
    });
  }

  function tokenNeck(): { visionFeatures: T; highRes0: T; highRes1: T; level: (i: number) => T } {
    // conv_s0/conv_s1 read FPN levels 0/1; a level without top-down input is just its lateral 1x1
    // conv, so lateral ∘ conv_s is one 1x1 conv on the trunk tokens (folded in float64)
    const foldable = (i: number) => !cfg.neck.topDownLevels.includes(i);
    const wanted = (i: number) => i === nKept - 1 || (opts.debug ?? false) || (i < 2 && !foldable(i));
    const levels = g.scope('neck', () => fpnNeckTokens(g, ws, 'image_encoder.neck', cfg.neck, trunk.stages, wanted));
    const nb = cfg.neck.backboneChannelList.length - 1;
    const highRes = (i: 0 | 1): T =>
      g.scope(`conv_s${i}`, () => {
        const convS = pointwiseWeights(ws, `sam_mask_decoder.conv_s${i}`);
        const m = foldable(i)
          ? pointwiseTokens(
              g,
              composePointwise(pointwiseWeights(ws, `image_encoder.neck.convs.${nb - i}.conv`), convS),
              trunk.stages[i]!,
              `conv_s${i}_after_neck_conv`,
            )
          : pointwiseTokens(g, convS, levels[i]!, `sam_mask_decoder.conv_s${i}`);
        return toNchw(g, m);
      });
    return {
      visionFeatures: toNchw(g, levels[nKept - 1]!),
      highRes0: highRes(0),
      highRes1: highRes(1),
      level: (i) => toNchw(g, levels[i]!),
    };
  }

  function plainNeck(): { visionFeatures: T; highRes0: T; highRes1: T; level: (i: number) => T } {
    const levels = g.scope('neck', () =>
      fpnNeck(
        g,
        ws,
        'image_encoder.neck',
        cfg.neck,
        trunk.stages.map((st) => ({ x: toNchw(g, st), c: st.c, h: st.h, w: st.w })),
      ),
    );
    const highRes0 = g.scope('conv_s0', () => conv2d(g, ws, 'sam_mask_decoder.conv_s0', levels[0]!.x));
    const highRes1 = g.scope('conv_s1', () => conv2d(g, ws, 'sam_mask_decoder.conv_s1', levels[1]!.x));
    return { visionFeatures: levels[nKept - 1]!.x, highRes0, highRes1, level: (i) => levels[i]!.x };
  }
  // Contrib ops (attention 'mha') declare their com.microsoft domain through the builder.
  return g.toBytes({ docString: 'SAM2 image encoder (Hiera + FPN neck + conv_s0/conv_s1)' });
}
