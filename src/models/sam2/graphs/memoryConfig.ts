import { MedsamError } from '../../../common/errors.js';
import { parseSam2Config, sam2ConfigFromDocument, type RoPEAttentionConfig, type Sam2Config } from '../config.js';

/**
 * The memory-graph view of a Sam2Config (memory encoder, memory attention, object-pointer
 * temporal encoding): what the memory graph builders and runners read. YAML parsing and upstream
 * defaults live in ../config.ts only.
 */
export type RopeAttentionConfig = Omit<RoPEAttentionConfig, 'dropout'>;

export interface MemoryAttentionConfig {
  dModel: number;
  posEncAtInput: boolean;
  numLayers: number;
  activation: 'relu' | 'gelu';
  dimFeedforward: number;
  posEncAtAttn: boolean;
  posEncAtCrossAttnKeys: boolean;
  posEncAtCrossAttnQueries: boolean;
  selfAttention: RopeAttentionConfig;
  crossAttention: RopeAttentionConfig;
}

export interface MemoryEncoderConfig {
  inDim: number;
  outDim: number;
  maskDownsampler: { embedDim: number; kernelSize: number; stride: number; padding: number; totalStride: number };
  /** `dim`, kernel, padding and dwconv are the CXBlock's (fuser.layer). */
  fuser: { numLayers: number; dim: number; kernelSize: number; padding: number; useDwconv: boolean; inputProjection: boolean };
  posEnc: { numPosFeats: number; temperature: number; normalize: boolean; scale: number };
}

export interface MemoryModulesConfig {
  imageSize: number;
  backboneStride: number;
  /** neck d_model. */
  hiddenDim: number;
  /** Memory channel width: out_dim of the memory encoder when it projects, else hiddenDim. */
  memDim: number;
  sigmoidScaleForMemEnc: number;
  sigmoidBiasForMemEnc: number;
  noObjEmbedSpatial: boolean;
  addTposEncToObjPtrs: boolean;
  projTposEncInObjPtrs: boolean;
  /** Upper bound on object pointers attended to (t_diff_max = min(num_frames, this) − 1). */
  maxObjPtrsInEncoder: number;
  memoryEncoder: MemoryEncoderConfig;
  memoryAttention: MemoryAttentionConfig;
}

function rope(a: RoPEAttentionConfig): RopeAttentionConfig {
  return {
    embeddingDim: a.embeddingDim,
    numHeads: a.numHeads,
    downsampleRate: a.downsampleRate,
    kvInDim: a.kvInDim,
    ropeTheta: a.ropeTheta,
    featSizes: [a.featSizes[0], a.featSizes[1]],
    ropeKRepeat: a.ropeKRepeat,
  };
}

export function memoryConfig(cfg: Sam2Config): MemoryModulesConfig {
  const me = cfg.memoryEncoder;
  const ma = cfg.memoryAttention;
  const act = ma.layer.activation;
  if (act !== 'relu' && act !== 'gelu')
    throw new MedsamError(`SAM2 memory attention activation '${act}' is not supported`, "use 'relu' or 'gelu'");
  const md = me.maskDownsampler;
  const cx = me.fuser.layer;
  const pe = me.positionEncoding;
  return {
    imageSize: cfg.imageSize,
    backboneStride: cfg.backboneStride,
    hiddenDim: cfg.derived.hiddenDim,
    memDim: cfg.derived.memDim,
    sigmoidScaleForMemEnc: cfg.sigmoidScaleForMemEnc,
    sigmoidBiasForMemEnc: cfg.sigmoidBiasForMemEnc,
    noObjEmbedSpatial: cfg.noObjEmbedSpatial,
    addTposEncToObjPtrs: cfg.addTposEncToObjPtrs,
    projTposEncInObjPtrs: cfg.projTposEncInObjPtrs,
    maxObjPtrsInEncoder: cfg.maxObjPtrsInEncoder,
    memoryEncoder: {
      inDim: me.inDim,
      outDim: me.outDim,
      maskDownsampler: {
        embedDim: md.embedDim,
        kernelSize: md.kernelSize,
        stride: md.stride,
        padding: md.padding,
        totalStride: md.totalStride,
      },
      fuser: {
        numLayers: me.fuser.numLayers,
        dim: cx.dim,
        kernelSize: cx.kernelSize,
        padding: cx.padding,
        useDwconv: cx.useDwconv,
        inputProjection: me.fuser.inputProjection,
      },
      posEnc: { numPosFeats: pe.numPosFeats, temperature: pe.temperature, normalize: pe.normalize, scale: pe.scale },
    },
    memoryAttention: {
      dModel: ma.dModel,
      posEncAtInput: ma.posEncAtInput,
      numLayers: ma.numLayers,
      activation: act,
      dimFeedforward: ma.layer.dimFeedforward,
      posEncAtAttn: ma.layer.posEncAtAttn,
      posEncAtCrossAttnKeys: ma.layer.posEncAtCrossAttnKeys,
      posEncAtCrossAttnQueries: ma.layer.posEncAtCrossAttnQueries,
      selfAttention: rope(ma.layer.selfAttention),
      crossAttention: rope(ma.layer.crossAttention),
    },
  };
}

/** Compatibility: the memory view of a parsed YAML document (`{ model: {...} }`). */
export function memoryConfigFromModelNode(doc: unknown): MemoryModulesConfig {
  return memoryConfig(sam2ConfigFromDocument(doc));
}

/** Compatibility: the memory view of SAM2 YAML text. */
export function memoryConfigFromYaml(text: string): MemoryModulesConfig {
  return memoryConfig(parseSam2Config(text));
}
