import { load as loadYaml } from 'js-yaml';
import { MedsamError } from '../../common/errors.js';

/**
 * The SAM2Base / SAM2VideoPredictor flags the video predictor's control flow depends on, read
 * from a SAM2 model YAML with upstream constructor defaults for omitted keys (sam2_base.py,
 * sam2_video_predictor_npz.py). Module widths live with the graph configs; this is only the
 * orchestration.
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

type Node = Record<string, unknown> | undefined;

function child(node: Node, key: string): Node {
  const v = node?.[key];
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}

function num(node: Node, key: string, dflt: number): number {
  const v = node?.[key];
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new MedsamError(`SAM2 config 'model.${key}' is not a number (${String(v)})`, 'fix the model YAML');
  return n;
}

function bool(node: Node, key: string, dflt: boolean): boolean {
  const v = node?.[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return /^true$/i.test(v);
  return Boolean(v);
}

export interface PredictorConfigOptions {
  /**
   * Apply MedSAM2's `build_sam2_video_predictor_npz` override binarize_mask_from_pts_for_mem_enc
   * = true (default true: that builder is how MedSAM2 runs).
   */
  applyPostprocessing?: boolean;
}

/** Read the predictor flags from a parsed YAML document (`{ model: {...} }`) or its `model` node. */
export function predictorConfigFromModelNode(doc: unknown, opts: PredictorConfigOptions = {}): Sam2PredictorConfig {
  const root = doc as Node;
  const m = child(root, 'model') ?? root;
  const post = opts.applyPostprocessing ?? true;
  const cfg: Sam2PredictorConfig = {
    imageSize: num(m, 'image_size', 512),
    backboneStride: num(m, 'backbone_stride', 16),
    numMaskmem: num(m, 'num_maskmem', 7),
    directlyAddNoMemEmbed: bool(m, 'directly_add_no_mem_embed', false),
    useMaskInputAsOutputWithoutSam: bool(m, 'use_mask_input_as_output_without_sam', false),
    multimaskOutputInSam: bool(m, 'multimask_output_in_sam', false),
    multimaskMinPtNum: num(m, 'multimask_min_pt_num', 1),
    multimaskMaxPtNum: num(m, 'multimask_max_pt_num', 1),
    multimaskOutputForTracking: bool(m, 'multimask_output_for_tracking', false),
    memoryTemporalStrideForEval: num(m, 'memory_temporal_stride_for_eval', 1),
    maxCondFramesInAttn: num(m, 'max_cond_frames_in_attn', -1),
    binarizeMaskFromPtsForMemEnc: post ? true : bool(m, 'binarize_mask_from_pts_for_mem_enc', false),
    nonOverlapMasksForMemEnc: bool(m, 'non_overlap_masks_for_mem_enc', false),
    useObjPtrsInEncoder: bool(m, 'use_obj_ptrs_in_encoder', false),
    maxObjPtrsInEncoder: num(m, 'max_obj_ptrs_in_encoder', 16),
    addTposEncToObjPtrs: bool(m, 'add_tpos_enc_to_obj_ptrs', true),
    useSignedTposEncToObjPtrs: bool(m, 'use_signed_tpos_enc_to_obj_ptrs', false),
    onlyObjPtrsInThePastForEval: bool(m, 'only_obj_ptrs_in_the_past_for_eval', false),
    predObjScores: bool(m, 'pred_obj_scores', false),
    fixedNoObjPtr: bool(m, 'fixed_no_obj_ptr', false),
    softNoObjPtr: bool(m, 'soft_no_obj_ptr', false),
  };
  if (cfg.imageSize % cfg.backboneStride !== 0) {
    throw new MedsamError(`SAM2 config image_size ${cfg.imageSize} is not a multiple of backbone_stride ${cfg.backboneStride}`, 'fix the model YAML');
  }
  if (cfg.numMaskmem < 1) {
    throw new MedsamError(`SAM2 config num_maskmem ${cfg.numMaskmem} disables memory`, 'the video predictor needs num_maskmem >= 1');
  }
  if (cfg.nonOverlapMasksForMemEnc) {
    // The memory-encoder graph upsamples low-res logits itself, so the constraint cannot be applied
    // between upsampling and encoding; no released SAM2/MedSAM2 config sets this flag.
    throw new MedsamError('SAM2 config sets non_overlap_masks_for_mem_enc, which this predictor does not support', 'remove the flag from the model YAML');
  }
  if (cfg.maxCondFramesInAttn !== -1 && cfg.maxCondFramesInAttn < 2) {
    throw new MedsamError(`SAM2 config max_cond_frames_in_attn ${cfg.maxCondFramesInAttn} must be -1 or >= 2`, 'fix the model YAML');
  }
  return cfg;
}

export function predictorConfigFromYaml(text: string, opts: PredictorConfigOptions = {}): Sam2PredictorConfig {
  return predictorConfigFromModelNode(loadYaml(text), opts);
}
