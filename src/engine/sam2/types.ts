/**
 * The contract between the SAM2 module runners (engine layer, ONNX sessions) and the video
 * predictor. Arrays are Float32Array in C order, batch 1, shapes given in comments with
 * S = image_size, h = w = S/16 (backbone stride), C = hidden dim (d_model), Cm = memory dim.
 * Coordinates are in the S×S model-input frame (upstream: coords / [W,H] * S, before +0.5).
 */

export interface Sam2ImageFeatures {
  /** backbone_fpn[-1] after scalp: [1,C,h,w]. */
  visionFeatures: Float32Array;
  /** vision_pos_enc[-1]: [1,C,h,w]. */
  visionPosEnc: Float32Array;
  /** conv_s0(backbone_fpn[0]): [1,C/8,4h,4w]. */
  highRes0: Float32Array;
  /** conv_s1(backbone_fpn[1]): [1,C/4,2h,2w]. */
  highRes1: Float32Array;
}

export interface SamHeadsInput {
  /** pix_feat for the decoder, [1,C,h,w]: memory-conditioned features, or features + no_mem_embed. */
  pixFeat: Float32Array;
  highRes0: Float32Array;
  highRes1: Float32Array;
  /** [N,2] in the S frame; undefined = no points (upstream feeds one padding point, label -1). */
  pointCoords?: Float32Array;
  /** [N] labels: 1 fg, 0 bg, 2/3 box corners, -1 padding. */
  pointLabels?: Int32Array;
  /** [1,1,4h,4w] mask logits prompt (already at the prompt encoder's mask_input_size). */
  maskInputs?: Float32Array;
  multimaskOutput: boolean;
}

/** Upstream SAM2Base._forward_sam_heads outputs (high-res masks derive from low-res by bilinear upsampling). */
export interface SamHeadsResult {
  /** [1,M,4h,4w], M = 3 with multimask else 1. */
  lowResMultimasks: Float32Array;
  /** [1,M]. */
  ious: Float32Array;
  /** Selected mask [1,1,4h,4w] (argmax IoU for multimask, after dynamic-stability fallback for single). */
  lowResMasks: Float32Array;
  /** [1,C] after obj_ptr_proj and no-object gating. */
  objPtr: Float32Array;
  /** [1,1]. */
  objectScoreLogits: Float32Array;
  /** Number of masks M, and the IoU of the selected one. */
  numMasks: number;
  bestIou: number;
  /** Raw decoder outputs before selection, for parity tests: masks [1,M,4h,4w], sam_tokens_out [1,M,C]. */
  debug?: Record<string, Float32Array>;
}

export interface MemoryEncodeInput {
  /** Un-conditioned backbone features visionFeatures [1,C,h,w]. */
  pixFeat: Float32Array;
  /** Low-res mask logits [1,1,4h,4w]; upsampled bilinearly to S inside. */
  lowResMasks: Float32Array;
  objectScoreLogits: Float32Array;
  /** true: binarise (>0) instead of sigmoid (binarize_mask_from_pts_for_mem_enc on prompted frames). */
  binarize: boolean;
}

export interface MemoryEncodeResult {
  /** [1,Cm,h,w] float32 (the predictor applies the bf16 storage rounding). */
  maskmemFeatures: Float32Array;
  /** [1,Cm,h,w]. */
  maskmemPosEnc: Float32Array;
}

export interface MemoryAttentionInput {
  /** Current frame features as (HW,1,C) tokens and their positional encoding. */
  curr: Float32Array;
  currPos: Float32Array;
  /** Memory tokens (M,1,Cm) and positional encodings; the last numObjPtrTokens are object-pointer tokens. */
  memory: Float32Array;
  memoryPos: Float32Array;
  numMemoryTokens: number;
  numObjPtrTokens: number;
}

/** Learned tensors the predictor uses directly (shapes as in the checkpoint, flattened). */
export interface Sam2PredictorParams {
  noMemEmbed: Float32Array; // [1,1,C]
  noMemPosEnc: Float32Array; // [1,1,C]
  maskmemTposEnc: Float32Array; // [num_maskmem,1,1,Cm]
  noObjPtr: Float32Array; // [1,C]
}

/** What the video predictor needs from the engine. */
export interface Sam2Modules {
  readonly imageSize: number;
  readonly hiddenDim: number;
  readonly memDim: number;
  readonly params: Sam2PredictorParams;
  encodeImage(image: Float32Array /* [1,3,S,S] normalised */): Promise<Sam2ImageFeatures>;
  runSamHeads(input: SamHeadsInput): Promise<SamHeadsResult>;
  /** SAM2Base.mask_downsample on a [1,1,S,S] mask → [1,1,4h,4w] (mask-as-output path). */
  downsampleMask(mask: Float32Array): Promise<Float32Array>;
  encodeMemory(input: MemoryEncodeInput): Promise<MemoryEncodeResult>;
  attendMemory(input: MemoryAttentionInput): Promise<Float32Array /* (HW,1,C) */>;
  /** obj_ptr_tpos_proj(get_1d_sine_pe(t / tDiffMax)) for each t: [K, Cm]. */
  objPtrTemporalEncoding(relPos: readonly number[], tDiffMax: number): Promise<Float32Array>;
}
