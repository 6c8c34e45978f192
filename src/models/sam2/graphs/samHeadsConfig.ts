import { sam2ConfigFromDocument, withVideoPredictorOverrides, type Sam2Config } from '../config.js';

/**
 * What the SAM heads (prompt encoder, mask decoder, object-pointer projection, mask_downsample)
 * need from a SAM2 config. Upstream `_build_sam_heads` hard-codes several widths in code rather
 * than config (8 heads, MLP 2048, depth 2, IoU head 256, mask_in_chans 16); they live here as
 * fields with those values so a graph never hides a fixture constant.
 * A pure view of Sam2Config: YAML parsing and upstream defaults live in ../config.ts only.
 */
export interface SamHeadsConfig {
  imageSize: number;
  backboneStride: number;
  /** neck d_model = transformer_dim = prompt embed dim. */
  hiddenDim: number;
  useHighResFeaturesInSam: boolean;
  iouPredictionUseSigmoid: boolean;
  predObjScores: boolean;
  predObjScoresMlp: boolean;
  useMultimaskTokenForObjPtr: boolean;
  useObjPtrsInEncoder: boolean;
  useMlpForObjPtrProj: boolean;
  fixedNoObjPtr: boolean;
  softNoObjPtr: boolean;
  /** sam_mask_decoder_extra_args (the MedSAM2 npz builder sets these; the YAML usually does not). */
  dynamicMultimaskViaStability: boolean;
  dynamicMultimaskStabilityDelta: number;
  dynamicMultimaskStabilityThresh: number;
  // ---- hard-coded in upstream SAM2Base._build_sam_heads ----
  numMultimaskOutputs: number;
  transformerDepth: number;
  transformerHeads: number;
  transformerMlpDim: number;
  attentionDownsampleRate: number;
  iouHeadDepth: number;
  iouHeadHiddenDim: number;
  maskInChans: number;
}

/** Side length of the image-embedding grid (h = w = image_size / backbone_stride). */
export function embeddingSize(cfg: SamHeadsConfig): number {
  return Math.floor(cfg.imageSize / cfg.backboneStride);
}

export function samHeadsConfig(cfg: Sam2Config): SamHeadsConfig {
  const x = cfg.samMaskDecoderExtraArgs;
  const h = cfg.derived.samHeads;
  return {
    imageSize: cfg.imageSize,
    backboneStride: cfg.backboneStride,
    hiddenDim: cfg.derived.hiddenDim,
    useHighResFeaturesInSam: cfg.useHighResFeaturesInSam,
    iouPredictionUseSigmoid: cfg.iouPredictionUseSigmoid,
    predObjScores: cfg.predObjScores,
    predObjScoresMlp: cfg.predObjScoresMlp,
    useMultimaskTokenForObjPtr: cfg.useMultimaskTokenForObjPtr,
    useObjPtrsInEncoder: cfg.useObjPtrsInEncoder,
    useMlpForObjPtrProj: cfg.useMlpForObjPtrProj,
    fixedNoObjPtr: cfg.fixedNoObjPtr,
    softNoObjPtr: cfg.softNoObjPtr,
    dynamicMultimaskViaStability: x.dynamicMultimaskViaStability,
    dynamicMultimaskStabilityDelta: x.dynamicMultimaskStabilityDelta,
    dynamicMultimaskStabilityThresh: x.dynamicMultimaskStabilityThresh,
    numMultimaskOutputs: h.numMultimaskOutputs,
    transformerDepth: h.transformerDepth,
    transformerHeads: h.transformerNumHeads,
    transformerMlpDim: h.transformerMlpDim,
    attentionDownsampleRate: h.attentionDownsampleRate,
    iouHeadDepth: h.iouHeadDepth,
    iouHeadHiddenDim: h.iouHeadHiddenDim,
    maskInChans: h.maskInChans,
  };
}

export interface SamHeadsConfigOptions {
  /**
   * Apply the post-processing overrides of MedSAM2's `build_sam2_video_predictor_npz`
   * (withVideoPredictorOverrides: dynamic multimask via stability, delta 0.05, thresh 0.98).
   * Default true: that builder is how MedSAM2 runs.
   */
  applyPostprocessing?: boolean;
}

/** Compatibility: the SAM-heads view of a parsed YAML document (`{ model: {...} }`). */
export function samHeadsConfigFromModelNode(doc: unknown, opts: SamHeadsConfigOptions = {}): SamHeadsConfig {
  const cfg = sam2ConfigFromDocument(doc);
  return samHeadsConfig((opts.applyPostprocessing ?? true) ? withVideoPredictorOverrides(cfg) : cfg);
}
