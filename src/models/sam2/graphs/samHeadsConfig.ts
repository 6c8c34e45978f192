import { MedsamError } from '../../../common/errors.js';

/**
 * What the SAM heads (prompt encoder, mask decoder, object-pointer projection, mask_downsample)
 * need from a SAM2 config. Upstream `_build_sam_heads` hard-codes several widths in code rather
 * than config (8 heads, MLP 2048, depth 2, IoU head 256, mask_in_chans 16); they live here as
 * fields with those values so a graph never hides a fixture constant.
 * `samHeadsConfigFromModelNode` is the only place that knows the YAML layout; kept local until a
 * shared Sam2Config covers these fields.
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

type Node = Record<string, unknown> | undefined;

function child(node: Node, key: string): Node {
  const v = node?.[key];
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}

function num(node: Node, key: string, dflt: number | undefined, where: string): number {
  const v = node?.[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new MedsamError(`SAM2 config has no '${where}.${key}'`, 'use a complete SAM2 model YAML (e.g. sam2.1_hiera_t512.yaml)');
    return dflt;
  }
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new MedsamError(`SAM2 config '${where}.${key}' is not a number (${String(v)})`, 'fix the model YAML');
  return n;
}

function bool(node: Node, key: string, dflt: boolean): boolean {
  const v = node?.[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return /^true$/i.test(v);
  return Boolean(v);
}

export interface SamHeadsConfigOptions {
  /**
   * Apply the post-processing overrides of MedSAM2's `build_sam2_video_predictor_npz`
   * (dynamic multimask via stability, delta 0.05, thresh 0.98) when the YAML has no
   * `sam_mask_decoder_extra_args`. Default true: that builder is how MedSAM2 runs.
   */
  applyPostprocessing?: boolean;
}

/** Read the SAM-heads config from a parsed YAML document (`{ model: {...} }`) or its `model` node. */
export function samHeadsConfigFromModelNode(doc: unknown, opts: SamHeadsConfigOptions = {}): SamHeadsConfig {
  const root = doc as Node;
  const model = child(root, 'model') ?? root;
  const neck = child(child(model, 'image_encoder'), 'neck');
  const hiddenDim = num(neck, 'd_model', undefined, 'model.image_encoder.neck');
  const extra = child(model, 'sam_mask_decoder_extra_args');
  const post = opts.applyPostprocessing ?? true;
  const cfg: SamHeadsConfig = {
    imageSize: num(model, 'image_size', 512, 'model'),
    backboneStride: num(model, 'backbone_stride', 16, 'model'),
    hiddenDim,
    useHighResFeaturesInSam: bool(model, 'use_high_res_features_in_sam', false),
    iouPredictionUseSigmoid: bool(model, 'iou_prediction_use_sigmoid', false),
    predObjScores: bool(model, 'pred_obj_scores', false),
    predObjScoresMlp: bool(model, 'pred_obj_scores_mlp', false),
    useMultimaskTokenForObjPtr: bool(model, 'use_multimask_token_for_obj_ptr', false),
    useObjPtrsInEncoder: bool(model, 'use_obj_ptrs_in_encoder', false),
    useMlpForObjPtrProj: bool(model, 'use_mlp_for_obj_ptr_proj', false),
    fixedNoObjPtr: bool(model, 'fixed_no_obj_ptr', false),
    softNoObjPtr: bool(model, 'soft_no_obj_ptr', false),
    dynamicMultimaskViaStability: bool(extra, 'dynamic_multimask_via_stability', post),
    dynamicMultimaskStabilityDelta: num(extra, 'dynamic_multimask_stability_delta', 0.05, 'model.sam_mask_decoder_extra_args'),
    dynamicMultimaskStabilityThresh: num(extra, 'dynamic_multimask_stability_thresh', 0.98, 'model.sam_mask_decoder_extra_args'),
    numMultimaskOutputs: 3,
    transformerDepth: 2,
    transformerHeads: 8,
    transformerMlpDim: 2048,
    attentionDownsampleRate: 2,
    iouHeadDepth: 3,
    iouHeadHiddenDim: 256,
    maskInChans: 16,
  };
  if (cfg.imageSize % cfg.backboneStride !== 0) {
    throw new MedsamError(`SAM2 config image_size ${cfg.imageSize} is not a multiple of backbone_stride ${cfg.backboneStride}`, 'fix the model YAML');
  }
  if (cfg.fixedNoObjPtr && !(cfg.predObjScores && cfg.useObjPtrsInEncoder)) {
    throw new MedsamError('SAM2 config sets fixed_no_obj_ptr without pred_obj_scores and use_obj_ptrs_in_encoder', 'fix the model YAML (upstream asserts this)');
  }
  return cfg;
}
