import { MedsamError } from '../../common/errors.js';
import { parseSam2Config, sam2ConfigFromDocument, withVideoPredictorOverrides, type Sam2Config } from './config.js';

/**
 * The SAM2Base / SAM2VideoPredictor flags the video predictor's control flow depends on: a view
 * of Sam2Config (YAML parsing and upstream defaults live in config.ts only). Module widths live
 * with the graph configs; this is only the orchestration.
 */
export interface Sam2PredictorConfig {
  imageSize: number;
  backboneStride: number;
  numMaskmem: number;
  directlyAddNoMemEmbed: boolean;
  useMaskInputAsOutputWithoutSam: boolean;
  multimaskOutputInSam: boolean;
  multimaskMinPtNum: number;
  multimaskMaxPtNum: number;
  multimaskOutputForTracking: boolean;
  memoryTemporalStrideForEval: number;
  maxCondFramesInAttn: number;
  binarizeMaskFromPtsForMemEnc: boolean;
  nonOverlapMasksForMemEnc: boolean;
  useObjPtrsInEncoder: boolean;
  maxObjPtrsInEncoder: number;
  addTposEncToObjPtrs: boolean;
  useSignedTposEncToObjPtrs: boolean;
  onlyObjPtrsInThePastForEval: boolean;
  predObjScores: boolean;
  fixedNoObjPtr: boolean;
  softNoObjPtr: boolean;
}

/** The predictor flags of a config; throws on flags this predictor does not implement. */
export function predictorConfig(c: Sam2Config): Sam2PredictorConfig {
  const cfg: Sam2PredictorConfig = {
    imageSize: c.imageSize,
    backboneStride: c.backboneStride,
    numMaskmem: c.numMaskmem,
    directlyAddNoMemEmbed: c.directlyAddNoMemEmbed,
    useMaskInputAsOutputWithoutSam: c.useMaskInputAsOutputWithoutSam,
    multimaskOutputInSam: c.multimaskOutputInSam,
    multimaskMinPtNum: c.multimaskMinPtNum,
    multimaskMaxPtNum: c.multimaskMaxPtNum,
    multimaskOutputForTracking: c.multimaskOutputForTracking,
    memoryTemporalStrideForEval: c.memoryTemporalStrideForEval,
    maxCondFramesInAttn: c.maxCondFramesInAttn,
    binarizeMaskFromPtsForMemEnc: c.binarizeMaskFromPtsForMemEnc,
    nonOverlapMasksForMemEnc: c.nonOverlapMasksForMemEnc,
    useObjPtrsInEncoder: c.useObjPtrsInEncoder,
    maxObjPtrsInEncoder: c.maxObjPtrsInEncoder,
    addTposEncToObjPtrs: c.addTposEncToObjPtrs,
    useSignedTposEncToObjPtrs: c.useSignedTposEncToObjPtrs,
    onlyObjPtrsInThePastForEval: c.onlyObjPtrsInThePastForEval,
    predObjScores: c.predObjScores,
    fixedNoObjPtr: c.fixedNoObjPtr,
    softNoObjPtr: c.softNoObjPtr,
  };
  if (cfg.numMaskmem < 1) {
    throw new MedsamError(`SAM2 config num_maskmem ${cfg.numMaskmem} disables memory`, 'the video predictor needs num_maskmem >= 1');
  }
  if (cfg.nonOverlapMasksForMemEnc) {
    // The memory-encoder graph upsamples low-res logits itself, so the constraint cannot be applied
    // between upsampling and encoding; no released SAM2/MedSAM2 config sets this flag.
    throw new MedsamError(
      'SAM2 config sets non_overlap_masks_for_mem_enc, which this predictor does not support',
      'remove the flag from the model YAML',
    );
  }
  if (cfg.maxCondFramesInAttn !== -1 && cfg.maxCondFramesInAttn < 2) {
    throw new MedsamError(`SAM2 config max_cond_frames_in_attn ${cfg.maxCondFramesInAttn} must be -1 or >= 2`, 'fix the model YAML');
  }
  return cfg;
}

export interface PredictorConfigOptions {
  /**
   * Apply MedSAM2's `build_sam2_video_predictor_npz` overrides (withVideoPredictorOverrides:
   * binarize_mask_from_pts_for_mem_enc = true). Default true: that builder is how MedSAM2 runs.
   */
  applyPostprocessing?: boolean;
}

function withOptions(cfg: Sam2Config, opts: PredictorConfigOptions): Sam2Config {
  return (opts.applyPostprocessing ?? true) ? withVideoPredictorOverrides(cfg) : cfg;
}

/** Compatibility: the predictor flags of a parsed YAML document (`{ model: {...} }`). */
export function predictorConfigFromModelNode(doc: unknown, opts: PredictorConfigOptions = {}): Sam2PredictorConfig {
  return predictorConfig(withOptions(sam2ConfigFromDocument(doc), opts));
}

/** Compatibility: the predictor flags of SAM2 YAML text. */
export function predictorConfigFromYaml(text: string, opts: PredictorConfigOptions = {}): Sam2PredictorConfig {
  return predictorConfig(withOptions(parseSam2Config(text), opts));
}
