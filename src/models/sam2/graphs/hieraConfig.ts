import { MedsamError } from '../../../common/errors.js';
import {
  parseSam2Config,
  sam2ConfigFromDocument,
  type FpnNeckConfig as Sam2FpnNeckConfig,
  type HieraConfig,
  type Sam2Config,
  type SinePositionEncodingConfig,
} from '../config.js';

/**
 * The image-encoder view of a Sam2Config (Hiera trunk, FpnNeck, scalp, conv_s0/conv_s1 switch):
 * what buildImageEncoderGraph reads. YAML parsing and upstream defaults live in ../config.ts only.
 */
export type HieraTrunkConfig = Omit<HieraConfig, 'dropPathRate'>;

export type SinePositionConfig = SinePositionEncodingConfig;

/** One MultiScaleBlock as upstream Hiera.__init__ lays them out. */
export interface HieraBlockSpec {
  dim: number;
  dimOut: number;
  numHeads: number;
  /** Window size before q-pooling (0 = global attention). */
  windowSize: number;
  qStride?: [number, number];
}

export type FpnNeckConfig = Omit<Sam2FpnNeckConfig, 'fpnInterpModel' | 'fpnTopDownLevels'> & {
  /** The graph builder emits nearest / bilinear resizes only. */
  interpMode: 'nearest' | 'bilinear';
  /** Levels (0 = highest resolution) that receive top-down features, resolved (never null). */
  topDownLevels: number[];
};

export interface ImageEncoderConfig {
  imageSize: number;
  backboneStride: number;
  /** Number of lowest-resolution FPN levels dropped. */
  scalp: number;
  useHighResFeaturesInSam: boolean;
  trunk: HieraTrunkConfig;
  neck: FpnNeckConfig;
}

export function imageEncoderConfig(cfg: Sam2Config): ImageEncoderConfig {
  const { trunk: t, neck: n, scalp } = cfg.imageEncoder;
  const interp = n.fpnInterpModel;
  if (interp !== 'nearest' && interp !== 'bilinear') {
    throw new MedsamError(
      `SAM2 config 'model.image_encoder.neck.fpn_interp_model: ${interp}' is not supported`,
      "use 'nearest' or 'bilinear'",
    );
  }
  const pe = n.positionEncoding;
  return {
    imageSize: cfg.imageSize,
    backboneStride: cfg.backboneStride,
    scalp,
    useHighResFeaturesInSam: cfg.useHighResFeaturesInSam,
    trunk: {
      embedDim: t.embedDim,
      numHeads: t.numHeads,
      stages: [...t.stages],
      qPool: t.qPool,
      qStride: [t.qStride[0], t.qStride[1]],
      dimMul: t.dimMul,
      headMul: t.headMul,
      windowPosEmbedBkgSpatialSize: [t.windowPosEmbedBkgSpatialSize[0], t.windowPosEmbedBkgSpatialSize[1]],
      windowSpec: [...t.windowSpec],
      globalAttBlocks: [...t.globalAttBlocks],
    },
    neck: {
      dModel: n.dModel,
      backboneChannelList: [...n.backboneChannelList],
      kernelSize: n.kernelSize,
      stride: n.stride,
      padding: n.padding,
      interpMode: interp,
      fuseType: n.fuseType,
      // upstream default (None) = top-down on every level
      topDownLevels: n.fpnTopDownLevels ? [...n.fpnTopDownLevels] : n.backboneChannelList.map((_, i) => i),
      positionEncoding: { numPosFeats: pe.numPosFeats, temperature: pe.temperature, normalize: pe.normalize, scale: pe.scale },
    },
  };
}

/** Compatibility: the image-encoder view of a parsed YAML document (`{ model: {...} }`). */
export function imageEncoderConfigFromModelNode(doc: unknown): ImageEncoderConfig {
  return imageEncoderConfig(sam2ConfigFromDocument(doc));
}

/** Compatibility: the image-encoder view of SAM2 YAML text. */
export function imageEncoderConfigFromYaml(text: string): ImageEncoderConfig {
  return imageEncoderConfig(parseSam2Config(text));
}
